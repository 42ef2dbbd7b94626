#include "freshet/api/event_stream.h"

#include <zlib.h>

#include <algorithm>

namespace freshet::api {

namespace {

void put_u32(uint32_t v, std::string& out) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}

uint32_t get_u32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

uint32_t crc32_of(const char* p, size_t n, uint32_t crc = 0) {
  return static_cast<uint32_t>(
      ::crc32(crc, reinterpret_cast<const Bytef*>(p), static_cast<uInt>(n)));
}

}  // namespace

void append_event_message(const std::vector<EventHeader>& headers, std::string_view payload,
                          std::string& out) {
  size_t hlen = 0;
  for (const EventHeader& h : headers) hlen += 1 + h.name.size() + 1 + 2 + h.value.size();
  const size_t total = 12 + hlen + payload.size() + 4;
  const size_t start = out.size();
  out.reserve(start + total);
  put_u32(static_cast<uint32_t>(total), out);
  put_u32(static_cast<uint32_t>(hlen), out);
  put_u32(crc32_of(out.data() + start, 8), out);
  for (const EventHeader& h : headers) {
    out.push_back(static_cast<char>(h.name.size()));
    out.append(h.name);
    out.push_back(static_cast<char>(7));
    out.push_back(static_cast<char>(h.value.size() >> 8));
    out.push_back(static_cast<char>(h.value.size()));
    out.append(h.value);
  }
  out.append(payload);
  put_u32(crc32_of(out.data() + start, out.size() - start), out);
}

void append_event(std::string_view event_type, std::string_view content_type,
                  std::string_view payload, std::string& out) {
  append_event_message({{":event-type", std::string(event_type)},
                        {":content-type", std::string(content_type)},
                        {":message-type", "event"}},
                       payload, out);
}

void append_exception(std::string_view exception_type, std::string_view content_type,
                      std::string_view payload, std::string& out) {
  append_event_message({{":exception-type", std::string(exception_type)},
                        {":content-type", std::string(content_type)},
                        {":message-type", "exception"}},
                       payload, out);
}

std::string_view EventMessage::header(std::string_view name) const {
  for (const EventHeader& h : headers) {
    if (h.name == name) return h.value;
  }
  return {};
}

Result<EventMessage> decode_event_message(std::string_view in, size_t* consumed) {
  auto bad = [](const char* what) { return Error(ErrorCode::kInvalidArgument, what); };
  if (in.size() < 12) return Error(ErrorCode::kOutOfRange, "incomplete prelude");
  const uint32_t total = get_u32(in.data());
  const uint32_t hlen = get_u32(in.data() + 4);
  if (get_u32(in.data() + 8) != crc32_of(in.data(), 8)) return bad("prelude CRC mismatch");
  if (total < 16 || total > kEventStreamMaxMessage || hlen > kEventStreamMaxHeaders ||
      hlen > total - 16) {
    return bad("bad message or header length");
  }
  if (in.size() < total) return Error(ErrorCode::kOutOfRange, "incomplete message");
  if (get_u32(in.data() + total - 4) != crc32_of(in.data(), total - 4)) {
    return bad("message CRC mismatch");
  }
  EventMessage m;
  std::string_view h = in.substr(12, hlen);
  while (!h.empty()) {
    const size_t nlen = static_cast<unsigned char>(h[0]);
    if (nlen == 0 || h.size() < 1 + nlen + 1) return bad("truncated header");
    EventHeader eh;
    eh.name.assign(h.substr(1, nlen));
    eh.type = static_cast<uint8_t>(h[1 + nlen]);
    h.remove_prefix(2 + nlen);
    size_t vlen = 0;
    switch (eh.type) {
      case 0: case 1: vlen = 0; break;
      case 2: vlen = 1; break;
      case 3: vlen = 2; break;
      case 4: vlen = 4; break;
      case 5: case 8: vlen = 8; break;
      case 9: vlen = 16; break;
      case 6: case 7:
        if (h.size() < 2) return bad("truncated header");
        vlen = (static_cast<size_t>(static_cast<unsigned char>(h[0])) << 8) |
               static_cast<unsigned char>(h[1]);
        h.remove_prefix(2);
        break;
      default: return bad("unknown header value type");
    }
    if (h.size() < vlen) return bad("truncated header");
    eh.value.assign(h.substr(0, vlen));
    h.remove_prefix(vlen);
    m.headers.push_back(std::move(eh));
  }
  m.payload.assign(in.substr(12 + hlen, total - hlen - 16));
  *consumed = total;
  return m;
}

// ---- ResponseStream ----

bool ResponseStream::write(std::string_view bytes) {
  std::function<void()> ready;
  {
    std::lock_guard lock(mu_);
    if (cancelled_ || ended_) return false;
    buf_.append(bytes);
    if (!notified_ && on_ready_) {
      notified_ = true;
      ready = on_ready_;
    }
  }
  if (ready) ready();
  return true;
}

void ResponseStream::end() {
  std::function<void()> ready;
  {
    std::lock_guard lock(mu_);
    if (ended_ || cancelled_) return;
    ended_ = true;
    if (!notified_ && on_ready_) {
      notified_ = true;
      ready = on_ready_;
    }
  }
  if (ready) ready();
}

bool ResponseStream::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

size_t ResponseStream::buffered() const {
  std::lock_guard lock(mu_);
  return buf_.size() - head_;
}

void ResponseStream::set_on_drain(std::function<void()> f) {
  std::lock_guard lock(mu_);
  on_drain_ = std::move(f);
}

void ResponseStream::set_on_ready(std::function<void()> f) {
  std::function<void()> call;
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return;
    on_ready_ = std::move(f);
    if (buf_.size() > head_ || ended_) {
      notified_ = true;
      call = on_ready_;
    }
  }
  if (call) call();
}

ResponseStream::Taken ResponseStream::take(size_t max) {
  Taken t;
  std::function<void()> drain;
  {
    std::lock_guard lock(mu_);
    notified_ = false;
    const size_t n = std::min(max, buf_.size() - head_);
    if (head_ == 0 && n == buf_.size()) {
      t.bytes.swap(buf_);
    } else {
      t.bytes.assign(buf_, head_, n);
      head_ += n;
      if (head_ == buf_.size()) {
        buf_.clear();
        head_ = 0;
      }
    }
    t.ended = ended_ && buf_.size() == head_;
    if (buf_.size() == head_ && n > 0) drain = on_drain_;
  }
  if (drain) drain();
  return t;
}

void ResponseStream::cancel() {
  std::function<void()> drain;
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    buf_.clear();
    head_ = 0;
    drain = std::move(on_drain_);
    on_drain_ = nullptr;
    on_ready_ = nullptr;  // the connection is gone: never call it again
  }
  if (drain) drain();
}

}  // namespace freshet::api
