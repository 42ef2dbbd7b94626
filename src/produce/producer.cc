#include "freshet/produce/producer.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <span>
#include <thread>

#include "freshet/common/thread_name.h"
#include "freshet/stream/engine.h"
#include "keys.h"

namespace freshet::produce {

namespace {

using Clock = std::chrono::steady_clock;

// How early a paced record may go (see run_source).
constexpr auto kProducerPaceSlack = std::chrono::milliseconds(1);

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- the generator ----

class GeneratorSource final : public Source {
 public:
  explicit GeneratorSource(const GeneratorSourceOptions& o) : options_(o), gen_(o.tweets) {}
  Result<bool> next(int64_t now_ms, Record* out) override {
    const int64_t t = options_.start_ms >= 0
                          ? options_.start_ms + static_cast<int64_t>(i_ * options_.step_us / 1000)
                          : now_ms;
    ++i_;
    gen_.next(t, &event_);
    out->data.swap(event_.data);
    out->partition_key.swap(event_.partition_key);
    out->event_ms = t;
    out->kind = event_.kind;
    return true;
  }

 private:
  GeneratorSourceOptions options_;
  TweetGenerator gen_;
  GeneratedEvent event_;
  uint64_t i_ = 0;
};

// ---- lines ----

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// The text of a scalar JSON value (a string's contents, a number's digits), or "".
std::string scalar_text(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::STRING:
      return std::string(std::string_view(e.get_string().value_unsafe()));
    case simdjson::dom::element_type::INT64:
      return std::to_string(int64_t(e.get_int64().value_unsafe()));
    case simdjson::dom::element_type::UINT64:
      return std::to_string(uint64_t(e.get_uint64().value_unsafe()));
    default:
      return "";
  }
}

std::optional<simdjson::dom::element> at_path(simdjson::dom::element root, std::string_view path) {
  simdjson::dom::element cur = root;
  while (!path.empty()) {
    const size_t dot = path.find('.');
    const std::string_view name = path.substr(0, dot);
    simdjson::dom::object obj;
    if (cur.get_object().get(obj) != simdjson::SUCCESS) return std::nullopt;
    if (obj[name].get(cur) != simdjson::SUCCESS) return std::nullopt;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return cur;
}

}  // namespace

int64_t parse_tweet_time(std::string_view text) {
  if (text.size() < 19 || text.size() > 40) return -1;
  const std::string s(text);
  std::tm tm{};
  int64_t millis = 0;
  if (s[4] == '-') {
    const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == nullptr) return -1;
    if (*end == '.') {
      int64_t scale = 100;
      for (++end; *end >= '0' && *end <= '9'; ++end) {
        millis += (*end - '0') * scale;
        scale /= 10;
      }
    }
    if (*end != 'Z' && *end != '\0') return -1;
  } else {
    // "Wed Oct 10 20:19:24 +0000 2018": Twitter always writes +0000.
    const char* end = strptime(s.c_str(), "%a %b %d %H:%M:%S +0000 %Y", &tm);
    if (end == nullptr || *end != '\0') return -1;
  }
  return static_cast<int64_t>(timegm(&tm)) * 1000 + millis;
}

void key_record(simdjson::dom::parser& parser, const std::string& key_field, bool timestamps,
                Record* out) {
  simdjson::dom::element root;
  if (parser.parse(out->data).get(root) == simdjson::SUCCESS) {
    static constexpr std::string_view kDefaults[] = {"user.id_str", "data.author_id", "id_str",
                                                     "id"};
    if (!key_field.empty()) {
      if (auto e = at_path(root, key_field)) out->partition_key = scalar_text(*e);
    } else {
      for (std::string_view f : kDefaults) {
        if (auto e = at_path(root, f)) out->partition_key = scalar_text(*e);
        if (!out->partition_key.empty()) break;
      }
    }
    if (timestamps) {
      if (auto e = at_path(root, "timestamp_ms")) {
        const std::string t = scalar_text(*e);
        if (!t.empty() && t.find_first_not_of("0123456789") == std::string::npos &&
            t.size() < 16) {
          out->event_ms = std::stoll(t);
        }
      }
      for (std::string_view f : {"created_at", "data.created_at"}) {
        if (out->event_ms >= 0) break;
        if (auto e = at_path(root, f)) out->event_ms = parse_tweet_time(scalar_text(*e));
      }
    }
  }
  if (out->partition_key.size() > 256) out->partition_key.resize(256);
  if (out->partition_key.empty()) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fnv1a(out->data)));
    out->partition_key = buf;
  }
}

class LineSource final : public Source {
 public:
  LineSource(const LineSourceOptions& o, std::FILE* f, bool owned, std::atomic<uint64_t>* skipped)
      : options_(o), file_(f), owned_(owned), skipped_(skipped) {}
  ~LineSource() override {
    std::free(line_);
    if (owned_) std::fclose(file_);
  }

  Result<bool> next(int64_t now_ms, Record* out) override {
    while (true) {
      errno = 0;
      const ssize_t n = getline(&line_, &cap_, file_);
      if (n < 0) {
        if (errno != 0 && errno != EAGAIN) return errno_error(errno, "read " + options_.path);
        return false;
      }
      std::string_view line(line_, static_cast<size_t>(n));
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
      if (line.empty()) continue;
      if (line.size() > kMaxRecordBytes - 256) {
        if (skipped_ != nullptr) skipped_->fetch_add(1);
        continue;
      }
      out->data.assign(line);
      out->kind = RecordKind::kValid;
      out->event_ms = -1;
      out->partition_key.clear();
      key_record(parser_, options_.key_field, options_.timestamps, out);
      return true;
    }
  }

 private:
  LineSourceOptions options_;
  std::FILE* file_;
  bool owned_;
  std::atomic<uint64_t>* skipped_;
  char* line_ = nullptr;
  size_t cap_ = 0;
  simdjson::dom::parser parser_;
};

std::unique_ptr<Source> make_generator_source(const GeneratorSourceOptions& options) {
  return std::make_unique<GeneratorSource>(options);
}

Result<std::unique_ptr<Source>> open_line_source(const LineSourceOptions& options,
                                                 std::atomic<uint64_t>* skipped_lines) {
  if (options.path == "-") {
    return std::unique_ptr<Source>(new LineSource(options, stdin, false, skipped_lines));
  }
  std::FILE* f = std::fopen(options.path.c_str(), "rb");
  if (f == nullptr) return errno_error(errno, "open " + options.path);
  return std::unique_ptr<Source>(new LineSource(options, f, true, skipped_lines));
}

// ---- sinks ----

namespace {

class EngineSink final : public Sink {
 public:
  EngineSink(stream::Engine& engine, std::string region, std::string stream)
      : engine_(engine), region_(std::move(region)), stream_(std::move(stream)) {}
  Status put(const std::vector<const Record*>& records, std::vector<uint8_t>* retry) override {
    entries_.clear();
    for (const Record* r : records) entries_.push_back({r->data, r->partition_key, {}});
    auto outcomes = engine_.put_records(region_, stream_, entries_);
    if (!outcomes.ok()) return outcomes.status();
    retry->assign(records.size(), 0);
    for (size_t i = 0; i < outcomes->size() && i < records.size(); ++i) {
      (*retry)[i] = (*outcomes)[i].error_code.empty() ? 0 : 1;
    }
    return Status();
  }

 private:
  stream::Engine& engine_;
  std::string region_;
  std::string stream_;
  std::vector<stream::PutEntry> entries_;
};

class FileSink final : public Sink {
 public:
  explicit FileSink(std::FILE* out) : out_(out) {}
  Status put(const std::vector<const Record*>& records, std::vector<uint8_t>* retry) override {
    for (const Record* r : records) {
      if (std::fwrite(r->data.data(), 1, r->data.size(), out_) != r->data.size() ||
          std::fputc('\n', out_) == EOF) {
        return errno_error(errno, "write");
      }
    }
    retry->assign(records.size(), 0);
    return Status();
  }

 private:
  std::FILE* out_;
};

}  // namespace

std::unique_ptr<Sink> make_engine_sink(stream::Engine& engine, std::string region,
                                       std::string stream) {
  return std::make_unique<EngineSink>(engine, std::move(region), std::move(stream));
}

std::unique_ptr<Sink> make_file_sink(std::FILE* out) { return std::make_unique<FileSink>(out); }

// ---- the producer ----

struct Producer::Impl {
  explicit Impl(ProducerOptions o) : options(std::move(o)) {}

  using Batch = std::vector<Record>;

  // Bounded hand-off from the reading thread to the senders. REQUIRES: mu held for fields.
  std::mutex mu;
  std::condition_variable not_empty, not_full;
  std::deque<Batch> queue;
  bool closed = false;
  size_t capacity = 2;

  ProducerOptions options;
  std::atomic<bool> stopping{false};
  std::mutex source_mu;
  Source* source = nullptr;  // REQUIRES: source_mu; the source run() reads, for stop()
  std::atomic<uint64_t> records{0}, bytes{0}, requests{0}, retried{0}, failed{0};
  std::atomic<uint64_t> skipped{0};
  std::atomic<uint64_t> by_kind[kRecordKinds] = {};
  std::mutex error_mu;
  std::string last_error;       // REQUIRES: error_mu
  std::optional<Error> fatal;   // REQUIRES: error_mu

  void set_error(const Error& e, bool is_fatal) {
    std::lock_guard lock(error_mu);
    last_error = e.to_string();
    if (is_fatal && !fatal) fatal = e;
  }

  bool push(Batch&& b) {
    std::unique_lock lock(mu);
    not_full.wait(lock, [&] { return queue.size() < capacity || stopping.load(); });
    if (stopping.load() && fatal_set()) return false;
    queue.push_back(std::move(b));
    not_empty.notify_one();
    return true;
  }

  bool fatal_set() {
    std::lock_guard lock(error_mu);
    return fatal.has_value();
  }

  bool pop(Batch* b) {
    std::unique_lock lock(mu);
    not_empty.wait(lock, [&] { return !queue.empty() || closed; });
    if (queue.empty()) return false;
    *b = std::move(queue.front());
    queue.pop_front();
    not_full.notify_one();
    return true;
  }

  void close() {
    std::lock_guard lock(mu);
    closed = true;
    not_empty.notify_all();
  }

  void send_loop(Sink& sink) {
    Batch batch;
    std::vector<const Record*> pending, next;
    std::vector<uint8_t> retry;
    while (pop(&batch)) {
      pending.clear();
      for (const Record& r : batch) pending.push_back(&r);
      int64_t backoff_ms = 50;
      for (int attempt = 1; !pending.empty(); ++attempt) {
        if (fatal_set()) break;
        requests.fetch_add(1);
        Status s = sink.put(pending, &retry);
        next.clear();
        if (!s.ok()) {
          const bool is_fatal =
              s.code() == ErrorCode::kNotFound || s.code() == ErrorCode::kInvalidArgument;
          set_error(s.error(), is_fatal);
          if (is_fatal) {
            stopping.store(true);
            not_full.notify_all();
            break;
          }
          next = pending;
        } else {
          for (size_t i = 0; i < pending.size(); ++i) {
            if (retry[i] != 0) {
              next.push_back(pending[i]);
            } else {
              records.fetch_add(1, std::memory_order_relaxed);
              bytes.fetch_add(pending[i]->data.size(), std::memory_order_relaxed);
              by_kind[static_cast<int>(pending[i]->kind)].fetch_add(1, std::memory_order_relaxed);
            }
          }
        }
        if (next.empty()) break;
        // Asked to stop: what the sink keeps refusing is given up on sooner, so a dead
        // endpoint cannot hold the exit for minutes.
        if (attempt >= options.max_attempts || (stopping.load() && attempt >= 2)) {
          failed.fetch_add(next.size());
          break;
        }
        retried.fetch_add(next.size());
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
        backoff_ms = std::min<int64_t>(backoff_ms * 2, 2000);
        pending.swap(next);
      }
      if (fatal_set()) {
        // Drain without sending so the reader is not blocked on a full queue.
        while (pop(&batch)) {
        }
        return;
      }
    }
  }

  ProducerStats snapshot() {
    ProducerStats s;
    s.records = records.load();
    s.bytes = bytes.load();
    s.requests = requests.load();
    s.retried = retried.load();
    s.failed = failed.load();
    s.skipped = skipped.load();
    for (int k = 0; k < kRecordKinds; ++k) s.by_kind[k] = by_kind[k].load();
    std::lock_guard lock(error_mu);
    s.last_error = last_error;
    return s;
  }

  Status run(Source& src) {
    {
      std::lock_guard lock(source_mu);
      source = &src;
    }
    Status st = run_source(src);
    std::lock_guard lock(source_mu);
    source = nullptr;
    return st;
  }

  Status run_source(Source& source) {
    const int senders = std::max(1, options.senders);
    capacity = static_cast<size_t>(senders) * 2;
    std::vector<std::unique_ptr<Sink>> sinks;
    for (int i = 0; i < senders; ++i) {
      auto s = options.make_sink();
      if (!s.ok()) return s.status();
      sinks.push_back(std::move(s).value());
    }
    const Clock::time_point start = Clock::now();
    std::vector<std::thread> threads;
    for (auto& s : sinks) {
      threads.emplace_back([this, sink = s.get()] {
        name_this_thread("producer");
        send_loop(*sink);
      });
    }
    std::mutex progress_mu;
    std::condition_variable progress_cv;
    bool progress_done = false;
    std::thread progress([&] {
      std::unique_lock lock(progress_mu);
      for (int tick = 1;; ++tick) {
        if (progress_cv.wait_until(lock, start + std::chrono::seconds(tick),
                                   [&] { return progress_done; })) {
          return;
        }
        if (options.on_progress) {
          const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
          options.on_progress(snapshot(), elapsed, false);
        }
      }
    });

    Status read_status;
    const int batch_max = std::clamp(options.batch, 1, kMaxRequestRecords);
    const auto deadline = options.duration_s > 0
                              ? start + std::chrono::microseconds(
                                            static_cast<int64_t>(options.duration_s * 1e6))
                              : Clock::time_point::max();
    const auto linger = std::chrono::milliseconds(options.linger_ms);
    Batch batch;
    size_t batch_bytes = 0;
    Clock::time_point batch_started;
    int64_t first_event_ms = -1;
    int64_t read = 0;
    auto flush = [&] {
      if (batch.empty()) return true;
      batch_bytes = 0;
      return push(std::move(batch));
    };
    while (!stopping.load()) {
      if (options.count >= 0 && read >= options.count) break;
      Clock::time_point now = Clock::now();
      if (now >= deadline) break;
      Record r;
      auto more = source.next(wall_ms(), &r);
      if (!more.ok()) {
        read_status = more.status();
        break;
      }
      if (!*more) break;
      ++read;
      if (r.data.size() + r.partition_key.size() > kMaxRecordBytes || r.partition_key.empty()) {
        skipped.fetch_add(1);
        continue;
      }
      // When is this record due?
      Clock::time_point due = now;
      if (options.replay_speed > 0 && r.event_ms >= 0) {
        if (first_event_ms < 0) first_event_ms = r.event_ms;
        due = start + std::chrono::microseconds(static_cast<int64_t>(
                          static_cast<double>(r.event_ms - first_event_ms) * 1000.0 /
                          options.replay_speed));
      } else if (options.rate > 0) {
        due = start + std::chrono::microseconds(
                          static_cast<int64_t>(static_cast<double>(read - 1) * 1e6 / options.rate));
      }
      // A record due within kProducerPaceSlack goes now: sleeping until each one (20 us apart at
      // 50,000/s) cost a timer and a wake-up per record; the batches go out at the same rate.
      if (due > now + kProducerPaceSlack) {
        if (!batch.empty() && due - batch_started >= linger && !flush()) break;
        const auto until = std::min(due, deadline);
        while (Clock::now() < until && !stopping.load()) {
          std::this_thread::sleep_until(std::min(until, Clock::now() + std::chrono::milliseconds(100)));
        }
        if (stopping.load() || Clock::now() >= deadline) break;
      }
      if (batch.empty()) batch_started = Clock::now();
      const size_t size = r.data.size() + r.partition_key.size();
      if (batch_bytes + size > kMaxRequestBytes - 65536 && !flush()) break;
      if (batch.empty()) batch_started = Clock::now();
      batch_bytes += size;
      batch.push_back(std::move(r));
      if (static_cast<int>(batch.size()) >= batch_max ||
          Clock::now() - batch_started >= linger) {
        if (!flush()) break;
      }
    }
    (void)flush();
    close();
    for (auto& t : threads) t.join();
    {
      std::lock_guard lock(progress_mu);
      progress_done = true;
      progress_cv.notify_all();
    }
    progress.join();
    if (options.on_progress) {
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      options.on_progress(snapshot(), elapsed, true);
    }
    if (!read_status.ok()) return read_status;
    std::lock_guard lock(error_mu);
    if (fatal) return *fatal;
    return Status();
  }
};

Producer::Producer(ProducerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Producer::~Producer() = default;

Status Producer::run(Source& source) { return impl_->run(source); }

void Producer::stop() {
  impl_->stopping.store(true);
  {
    std::lock_guard lock(impl_->source_mu);
    if (impl_->source != nullptr) impl_->source->cancel();
  }
  std::lock_guard lock(impl_->mu);
  impl_->not_full.notify_all();
}

ProducerStats Producer::stats() const { return impl_->snapshot(); }

std::string human_count(double n) {
  char buf[32];
  if (n >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  } else if (n >= 1e4) {
    std::snprintf(buf, sizeof buf, "%.1fk", n / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", n);
  }
  return buf;
}

}  // namespace freshet::produce
