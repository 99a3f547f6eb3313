"""kehu (客户): customer data platform and CRM."""
