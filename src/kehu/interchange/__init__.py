"""Moving data in and out: spreadsheet import (any encoding, header mapping, validation
report, upsert by identifier) and permission-aware export."""
