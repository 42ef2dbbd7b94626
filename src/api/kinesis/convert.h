// Engine values -> response Documents (model member names), and the opaque pagination tokens.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/api/document.h"
#include "freshet/stream/engine.h"

namespace freshet::api::kinesis {

Document hash_key_range_doc(const stream::HashKeyRange& r);
Document shard_doc(const stream::Shard& s);
Document stream_mode_doc(stream::StreamMode m);
// EnhancedMonitoring: [{"ShardLevelMetrics": [...]}]
Document enhanced_monitoring_doc(const std::vector<std::string>& metrics);
Document string_list_doc(const std::vector<std::string>& items);
// Consumer / ConsumerDescription (the latter with StreamARN).
Document consumer_doc(const stream::Consumer& c, const std::string* stream_arn);

// NextToken of ListStreams, ListShards and ListStreamConsumers: base64 of a small versioned
// record. Opaque to clients; it carries where the listing stopped and what it was listing.
//
//   "fnt1" \n op \n issued_ms \n region \n stream \n stream_epoch \n after \n filter_type \n
//   filter_shard_id \n filter_timestamp_ms
//
// Names, regions and shard IDs cannot contain '\n', so the split is unambiguous.
struct PageToken {
  std::string op;  // "ListStreams", "ListShards", "ListStreamConsumers"
  int64_t issued_ms = 0;
  std::string region;
  std::string stream;     // "" for ListStreams
  uint64_t stream_epoch = 0;  // identifies one incarnation of the stream
  std::string after;      // last item returned (stream name, shard ID, consumer name)
  int filter_type = 0;    // ListShards: stream::ListShardsFilter::Type
  std::string filter_shard_id;
  int64_t filter_timestamp_ms = 0;
};

std::string encode_page_token(const PageToken& t);
// nullopt if the text is not a token this layer issued.
std::optional<PageToken> decode_page_token(std::string_view text);

}  // namespace freshet::api::kinesis
