// AWS event streams (application/vnd.amazon.eventstream): the message framing, and
// ResponseStream, the channel through which a handler answers with a body that is written
// over time (SubscribeToShard).
//
// One message (all integers big-endian; CRCs are CRC-32/ISO-HDLC, zlib's crc32):
//
//   offset  size  field
//        0     4  total length T     (prelude + headers + payload + message CRC)
//        4     4  headers length H
//        8     4  prelude CRC        over bytes 0..7
//       12     H  headers            each: name length (1), name, value type (1), value
//     12+H     P  payload            P = T - H - 16
//      T-4     4  message CRC        over bytes 0..T-5
//
// Header value types: 0 true, 1 false (no value), 2 byte, 3 int16, 4 int32, 5 int64,
// 6 bytes (length 2 + bytes), 7 string (length 2 + UTF-8), 8 timestamp (int64 ms),
// 9 uuid (16). Freshet writes strings only; the decoder (tests, tools) reads all types.
// Limits as AWS's: a message is at most 16 MiB, its headers at most 128 KiB.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "freshet/common/result.h"

namespace freshet::api {

inline constexpr std::string_view kEventStreamContentType = "application/vnd.amazon.eventstream";
inline constexpr size_t kEventStreamMaxMessage = 16u << 20;
inline constexpr size_t kEventStreamMaxHeaders = 128u << 10;

struct EventHeader {
  std::string name;
  std::string value;  // string (type 7) when written; decoded values of other types as bytes
  uint8_t type = 7;
};

// Appends one framed message to out.
// REQUIRES: each name <= 255 bytes, each value <= 65535 bytes, sizes within the limits.
void append_event_message(const std::vector<EventHeader>& headers, std::string_view payload,
                          std::string& out);

// The three headers of an event (":event-type", ":content-type", ":message-type" = "event")
// or of an exception (":exception-type", ":content-type", ":message-type" = "exception").
void append_event(std::string_view event_type, std::string_view content_type,
                  std::string_view payload, std::string& out);
void append_exception(std::string_view exception_type, std::string_view content_type,
                      std::string_view payload, std::string& out);

struct EventMessage {
  std::vector<EventHeader> headers;
  std::string payload;
  // The value of the first header called name, or "".
  std::string_view header(std::string_view name) const;
};

// Decodes the message at the start of `in`; *consumed receives its length. kInvalidArgument
// for a bad length, CRC or header; kOutOfRange when `in` holds only part of a message.
Result<EventMessage> decode_event_message(std::string_view in, size_t* consumed);

// A response body written over time. The producer (a handler's worker thread) writes bytes
// and finally ends it; the connection (its io thread) takes what is buffered whenever it can
// send. Either side may cancel: the connection when the client goes away, the producer never
// needs to. All methods are thread-safe (one mutex, never held while calling out).
//
// Flow control: the producer looks at buffered() and stops producing above its own bound; the
// connection calls the producer's drain callback after each take(), so the producer resumes.
class ResponseStream {
 public:
  // ---- producer ----
  // Appends bytes; false (and nothing buffered) once cancelled or ended.
  bool write(std::string_view bytes);
  // No more bytes; the connection finishes the body after sending what is buffered.
  void end();
  bool cancelled() const;
  size_t buffered() const;
  // Called (from the connection's thread, without locks held) after take() emptied the buffer
  // and on cancel. Set once, before the stream is handed to the server.
  void set_on_drain(std::function<void()> f);

  // ---- connection ----
  // Called (from the producer's thread) when bytes or the end become available; at most one
  // call per take(). Set once by the server, before the first take().
  void set_on_ready(std::function<void()> f);
  struct Taken {
    std::string bytes;
    bool ended = false;  // all bytes taken and end() was called
  };
  // Takes up to max bytes.
  Taken take(size_t max = SIZE_MAX);
  // The client went away: writes fail from now on; the drain callback runs once.
  void cancel();

 private:
  mutable std::mutex mu_;
  std::string buf_;         // GUARDED_BY(mu_)
  size_t head_ = 0;         // GUARDED_BY(mu_): bytes of buf_ already taken
  bool ended_ = false;      // GUARDED_BY(mu_)
  bool cancelled_ = false;  // GUARDED_BY(mu_)
  bool notified_ = false;   // GUARDED_BY(mu_): on_ready called since the last take()
  std::function<void()> on_ready_;
  std::function<void()> on_drain_;
};

}  // namespace freshet::api
