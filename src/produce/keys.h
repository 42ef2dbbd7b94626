// Partition keys and event times of JSON records (shared by the line and X stream sources).
#pragma once

#include <simdjson.h>

#include <string>

#include "freshet/produce/producer.h"

namespace freshet::produce {

// Sets out->partition_key from the JSON value at key_field (a dotted path; "" tries
// user.id_str, data.author_id, id_str, id), or a hash of the data when there is none; with
// timestamps, out->event_ms from timestamp_ms, created_at or data.created_at.
void key_record(simdjson::dom::parser& parser, const std::string& key_field, bool timestamps,
                Record* out);

}  // namespace freshet::produce
