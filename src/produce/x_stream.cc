#include "freshet/produce/x_stream.h"

#include <curl/curl.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "freshet/api/codec.h"
#include "keys.h"

namespace freshet::produce {

namespace {

size_t append_to_string(char* data, size_t size, size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() + size * n > (1u << 20)) return 0;
  s->append(data, size * n);
  return size * n;
}

// A JSON string (quoted), escaped as every API answer of Freshet's is (api/codec.h).
std::string json_string(std::string_view s) {
  std::string out;
  api::append_json_string(s, out);
  return out;
}

}  // namespace

struct XStreamSource::Impl {
  explicit Impl(XStreamOptions o) : options(std::move(o)) {}

  XStreamOptions options;
  mutable std::mutex mu;
  std::condition_variable changed;
  std::deque<std::string> frames;  // REQUIRES: mu
  bool cancelled = false;          // REQUIRES: mu
  XStreamStats stats;              // REQUIRES: mu
  std::string partial;             // bytes of an unfinished line; connection thread only
  bool got_frame = false;          // on this connection; connection thread only
  CURL* handle = nullptr;          // the connection's; connection thread only
  long status = 0;                 // its HTTP status once known; connection thread only
  std::string error_body;          // a non-200 answer's first bytes; connection thread only
  std::thread thread;
  simdjson::dom::parser parser;    // next()'s

  bool is_cancelled() {
    std::lock_guard lock(mu);
    return cancelled;
  }

  // Adds the rules. X answers 201 with meta.summary; a rule that exists already is reported
  // in "errors" as DuplicateRule, which is what we want anyway.
  Status add_rules() {
    if (options.rules.empty()) return Status();
    std::string body = "{\"add\":[";
    for (size_t i = 0; i < options.rules.size(); ++i) {
      body += (i == 0 ? "{\"value\":" : ",{\"value\":") + json_string(options.rules[i].first);
      if (!options.rules[i].second.empty()) body += ",\"tag\":" + json_string(options.rules[i].second);
      body += '}';
    }
    body += "]}";
    CURL* c = curl_easy_init();
    if (c == nullptr) return Error(ErrorCode::kFailed, "curl_easy_init failed");
    const std::string url = options.base_url + "/2/tweets/search/stream/rules";
    const std::string auth = "Authorization: Bearer " + options.bearer_token;
    curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
    headers = curl_slist_append(headers, "Content-Type: application/json");
    std::string answer;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30'000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &append_to_string);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    const CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
      return Error(ErrorCode::kUnavailable, "X rules " + url + ": " + curl_easy_strerror(rc));
    }
    if (status != 200 && status != 201) {
      return Error(status == 401 || status == 403 ? ErrorCode::kInvalidArgument
                                                  : ErrorCode::kUnavailable,
                   "X rules: HTTP " + std::to_string(status) + ": " + answer.substr(0, 300));
    }
    return Status();
  }

  // Splits what arrived into lines: frames go to the queue (waiting while it is full), bare
  // line ends are keep-alives.
  size_t on_bytes(const char* data, size_t n) {
    if (status == 0) {
      curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
      if (status == 200) {
        std::lock_guard lock(mu);
        ++stats.connections;
      }
    }
    if (status != 200) {  // an error answer ({"title":...,"detail":...}): not frames
      error_body.append(data, std::min(n, size_t{512} - std::min<size_t>(512, error_body.size())));
      return n;
    }
    partial.append(data, n);
    size_t start = 0;
    while (true) {
      const size_t nl = partial.find('\n', start);
      if (nl == std::string::npos) break;
      size_t end = nl;
      if (end > start && partial[end - 1] == '\r') --end;
      std::string line = partial.substr(start, end - start);
      start = nl + 1;
      std::unique_lock lock(mu);
      if (line.empty()) {
        ++stats.keep_alives;
        continue;
      }
      changed.wait(lock, [&] { return frames.size() < options.queue_frames || cancelled; });
      if (cancelled) return 0;  // aborts the transfer
      frames.push_back(std::move(line));
      ++stats.frames;
      got_frame = true;
      changed.notify_all();
    }
    partial.erase(0, start);
    if (partial.size() > (4u << 20)) return 0;  // no frame is that large: a broken stream
    return n;
  }

  static size_t write_cb(char* data, size_t size, size_t n, void* self) {
    return static_cast<Impl*>(self)->on_bytes(data, size * n);
  }

  static int progress_cb(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<Impl*>(self)->is_cancelled() ? 1 : 0;
  }

  // Sleeps up to ms, waking early on cancel(). Returns false if cancelled.
  bool pause(int64_t ms) {
    std::unique_lock lock(mu);
    return !changed.wait_for(lock, std::chrono::milliseconds(ms), [&] { return cancelled; });
  }

  void run() {
    const std::string url = options.base_url + "/2/tweets/search/stream" +
                            (options.fields.empty() ? "" : "?" + options.fields);
    const std::string auth = "Authorization: Bearer " + options.bearer_token;
    int64_t network_backoff = 0, http_backoff = 0;
    for (bool first = true;; first = false) {
      if (is_cancelled()) return;
      if (!first) {
        std::lock_guard lock(mu);
        ++stats.reconnects;
      }
      CURL* c = curl_easy_init();
      if (c == nullptr) return;
      curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
      partial.clear();
      got_frame = false;
      handle = c;
      status = 0;
      error_body.clear();
      curl_easy_setopt(c, CURLOPT_URL, url.c_str());
      curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 30'000L);
      // A stall: fewer than 1 byte/s (keep-alives included) for stall_timeout_ms.
      curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                       std::max<long>(1, static_cast<long>(options.stall_timeout_ms / 1000)));
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Impl::write_cb);
      curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
      curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &Impl::progress_cb);
      curl_easy_setopt(c, CURLOPT_XFERINFODATA, this);
      const CURLcode rc = curl_easy_perform(c);
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
      curl_slist_free_all(headers);
      curl_easy_cleanup(c);
      handle = nullptr;
      if (is_cancelled()) return;
      int64_t wait_ms = 0;
      std::string why;
      if (got_frame) network_backoff = http_backoff = 0;
      if (status == 429) {
        http_backoff = http_backoff == 0 ? options.rate_limit_first_ms
                                         : std::min(http_backoff * 2, options.http_max_ms);
        wait_ms = http_backoff;
        why = "HTTP 429 (rate limited)";
      } else if (status >= 400) {
        http_backoff = http_backoff == 0 ? options.http_first_ms
                                         : std::min(http_backoff * 2, options.http_max_ms);
        wait_ms = http_backoff;
        why = "HTTP " + std::to_string(status) + (error_body.empty() ? "" : ": " + error_body);
      } else {
        network_backoff = std::min(network_backoff + options.network_step_ms, options.network_max_ms);
        wait_ms = network_backoff;
        why = rc == CURLE_OK ? std::string("disconnected") : curl_easy_strerror(rc);
      }
      {
        std::lock_guard lock(mu);
        stats.last_error = why;
      }
      if (!pause(wait_ms)) return;
    }
  }
};

Result<std::unique_ptr<XStreamSource>> XStreamSource::open(XStreamOptions options) {
  if (options.bearer_token.empty()) {
    return Error(ErrorCode::kInvalidArgument, "the X API needs a bearer token (X_BEARER_TOKEN)");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  FRESHET_RETURN_IF_ERROR(impl->add_rules());
  Impl* raw = impl.get();
  raw->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<XStreamSource>(new XStreamSource(std::move(impl)));
}

XStreamSource::XStreamSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

XStreamSource::~XStreamSource() { cancel(); }

void XStreamSource::cancel() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->cancelled = true;
    impl_->changed.notify_all();
  }
  if (impl_->thread.joinable() && impl_->thread.get_id() != std::this_thread::get_id()) {
    impl_->thread.join();
  }
}

Result<bool> XStreamSource::next(int64_t now_ms, Record* out) {
  {
    std::unique_lock lock(impl_->mu);
    impl_->changed.wait(lock, [&] { return !impl_->frames.empty() || impl_->cancelled; });
    if (impl_->frames.empty()) return false;
    out->data = std::move(impl_->frames.front());
    impl_->frames.pop_front();
    impl_->changed.notify_all();
  }
  out->partition_key.clear();
  out->event_ms = -1;
  out->kind = RecordKind::kValid;
  key_record(impl_->parser, "data.author_id", false, out);
  return true;
}

XStreamStats XStreamSource::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

}  // namespace freshet::produce
