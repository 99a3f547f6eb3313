"""Every write to customers and the rows of their card. Import from here:
`from kehu.customers import services; services.customer_create(actor=…, …)`."""

from kehu.customers.services._common import bump as customer_version_bump
from kehu.customers.services._common import snapshot as customer_snapshot
from kehu.customers.services.activity import (
    customer_lock_for_write,
    customer_touch_activity,
    customers_lock_for_write,
    customers_touch_activity,
)
from kehu.customers.services.bulk import (
    EXTERNAL_SYSTEM,
    UpsertOptions,
    UpsertResult,
    UpsertRow,
    UpsertSession,
    customers_upsert_many,
    upsert_row,
)
from kehu.customers.services.cards import (
    address_remove,
    address_set,
    contact_link_remove,
    contact_link_save,
    customers_add_tag,
    customers_assign_owner,
    identifier_add,
    identifier_remove,
    identifier_set_primary,
    saved_view_delete,
    saved_view_save,
    tag_add,
    tag_remove,
)
from kehu.customers.services.custom_fields import (
    custom_field_define,
    custom_field_update,
    custom_values_clean,
)
from kehu.customers.services.customers import (
    customer_create,
    customer_delete,
    customer_reveal_id_number,
    customer_update,
    record_card_change,
)
from kehu.customers.services.forms import (
    field_behaviour_delete,
    field_behaviour_save,
    form_layout_reset,
    form_layout_save,
)
from kehu.customers.services.identity import id_number_index, normalize_identifier
from kehu.customers.services.lookups import customer_sensitive_lookup
from kehu.customers.services.tag_groups import tag_group_delete, tag_group_save, tag_update

__all__ = [
    "EXTERNAL_SYSTEM", "UpsertOptions", "UpsertResult", "UpsertRow", "UpsertSession",
    "customers_upsert_many", "upsert_row", "customer_snapshot", "customer_version_bump",
    "address_remove", "address_set", "contact_link_remove", "contact_link_save",
    "custom_field_define", "custom_field_update", "custom_values_clean", "customer_create",
    "customer_lock_for_write", "customer_touch_activity", "customers_lock_for_write",
    "customers_touch_activity",
    "customer_delete", "customer_reveal_id_number", "customer_sensitive_lookup",
    "customer_update", "customers_add_tag",
    "customers_assign_owner", "id_number_index", "identifier_add", "identifier_remove",
    "identifier_set_primary", "normalize_identifier", "record_card_change", "saved_view_delete",
    "saved_view_save", "tag_add", "tag_group_delete", "tag_group_save", "tag_remove",
    "tag_update", "field_behaviour_delete", "field_behaviour_save", "form_layout_reset",
    "form_layout_save",
]
