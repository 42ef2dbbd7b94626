// Internal: a table descriptor as an Item, so the catalog reuses the item encoding (codec.h).
// Attribute names of the descriptor item are listed in docs/format.md ("Tables: catalog").
#pragma once

#include "freshet/common/result.h"
#include "freshet/table/store.h"

namespace freshet::table {

Item desc_to_item(const TableDesc& d);
Result<TableDesc> item_to_desc(const Item& item);

}  // namespace freshet::table
