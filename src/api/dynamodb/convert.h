// Internal: DynamoDB JSON (AttributeValue documents) <-> table::Value, with DynamoDB's
// validation messages.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "freshet/api/aws_error.h"
#include "freshet/api/document.h"
#include "freshet/common/result.h"
#include "freshet/table/value.h"

namespace freshet::api::dynamodb {

// Result of a conversion: the value, or the ApiError DynamoDB answers.
template <typename T>
struct Converted {
  std::optional<T> value;
  std::optional<ApiError> error;
  bool ok() const { return !error.has_value(); }
};

Converted<table::Value> to_value(const Document& av, int depth = 1);
// A map of AttributeValues (Item, Key, ExpressionAttributeValues, ...).
Converted<table::Item> to_item(const Document& map);

Document from_value(const table::Value& v);
Document from_item(const table::Item& item);
// The same DynamoDB JSON appended straight to a JSON text (hot-path answers written as an
// EncodedBody), byte for byte what encode_json(from_value(v)) / encode_json(from_item(m))
// writes.
void append_value_json(const table::Value& v, std::string& out);
void append_item_json(const table::Item& item, std::string& out);
// The same JSON written straight from an item's stored encoding (table/codec.h), without
// building the Item: byte for byte what append_item_json(decode_item(encoded)) writes. Sets
// *size (when not null) to the item's item_size. Fails as decode_item does (out may then
// hold part of the item).
Status append_encoded_item_json(std::string_view encoded, std::string& out, size_t* size);

ApiError validation(std::string message);

}  // namespace freshet::api::dynamodb
