// The event-stream framing (against AWS's published test vectors' layout) and ResponseStream.
#include "freshet/api/event_stream.h"

#include <gtest/gtest.h>

#include <atomic>

namespace freshet::api {
namespace {

std::string hex(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

TEST(EventStreamTest, EmptyMessageMatchesTheReferenceEncoding) {
  // aws-c-event-stream's "empty message" vector: lengths 16 and 0 and the two CRCs.
  std::string out;
  append_event_message({}, "", out);
  EXPECT_EQ(hex(out), "000000100000000005c248eb7d98c8ff");
}

TEST(EventStreamTest, PayloadOnlyMessageMatchesTheReferenceEncoding) {
  // The same layout with a payload; CRCs computed independently (Python's zlib.crc32).
  std::string out;
  append_event_message({}, "{'foo':'bar'}", out);
  EXPECT_EQ(hex(out), "0000001d00000000fd528c5a7b27666f6f273a27626172277dc3653936");
}

TEST(EventStreamTest, RoundTripsHeadersAndPayload) {
  std::string out;
  append_event("SubscribeToShardEvent", "application/json", "{\"Records\":[]}", out);
  append_exception("ResourceNotFoundException", "application/json", "{\"message\":\"x\"}", out);
  size_t used = 0;
  auto m = decode_event_message(out, &used);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->header(":event-type"), "SubscribeToShardEvent");
  EXPECT_EQ(m->header(":content-type"), "application/json");
  EXPECT_EQ(m->header(":message-type"), "event");
  EXPECT_EQ(m->payload, "{\"Records\":[]}");
  auto e = decode_event_message(std::string_view(out).substr(used), &used);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->header(":exception-type"), "ResourceNotFoundException");
  EXPECT_EQ(e->header(":message-type"), "exception");
}

TEST(EventStreamTest, RejectsDamageAndWaitsForTruncatedInput) {
  std::string out;
  append_event("E", "application/json", "{}", out);
  size_t used = 0;
  for (size_t cut = 0; cut < out.size(); ++cut) {
    EXPECT_EQ(decode_event_message(std::string_view(out).substr(0, cut), &used).code(),
              ErrorCode::kOutOfRange)
        << cut;
  }
  for (size_t i = 0; i < out.size(); ++i) {
    std::string bad = out;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    auto m = decode_event_message(bad, &used);
    EXPECT_FALSE(m.ok()) << i;
  }
}

TEST(EventStreamTest, ResponseStreamBuffersNotifiesAndCancels) {
  ResponseStream s;
  std::atomic<int> ready{0}, drained{0};
  s.set_on_drain([&] { ++drained; });
  EXPECT_TRUE(s.write("ab"));
  s.set_on_ready([&] { ++ready; });  // bytes are pending: called at once
  EXPECT_EQ(ready.load(), 1);
  EXPECT_TRUE(s.write("cd"));  // already notified since the last take
  EXPECT_EQ(ready.load(), 1);
  EXPECT_EQ(s.buffered(), 4u);
  ResponseStream::Taken t = s.take(3);
  EXPECT_EQ(t.bytes, "abc");
  EXPECT_FALSE(t.ended);
  EXPECT_EQ(drained.load(), 0);
  t = s.take();
  EXPECT_EQ(t.bytes, "d");
  EXPECT_EQ(drained.load(), 1);
  s.end();
  EXPECT_EQ(ready.load(), 2);
  EXPECT_FALSE(s.write("x"));
  EXPECT_TRUE(s.take().ended);

  ResponseStream c;
  c.set_on_drain([&] { ++drained; });
  c.cancel();
  EXPECT_TRUE(c.cancelled());
  EXPECT_FALSE(c.write("x"));
  EXPECT_EQ(drained.load(), 2);
}

}  // namespace
}  // namespace freshet::api
