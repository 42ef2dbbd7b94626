#include "http2_session.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace freshet::api {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Http2Session::Stream {
  int32_t id = 0;
  // Request (filled by the header callback).
  std::string method, path, content_type, amz_target, authorization;
  std::string origin, cors_request_headers, cors_request_method;  // CORS
  bool has_date = false;                                          // x-amz-date or date
  bool has_security_token = false;
  std::optional<uint64_t> content_length;
  size_t header_bytes = 0;  // RFC 9113 header list size: name + value + 32 per field
  bool headers_too_large = false;
  std::string body;
  size_t counted = 0;         // bytes of this stream in buffered_body_bytes_
  bool request_done = false;  // END_STREAM received
  bool rejected = false;      // answered or reset before the request ended; data is dropped
  bool responded = false;
  std::string request_id;
  // Response (read by the data provider).
  std::string response_body;
  size_t sent = 0;
  // A streaming response: response_body holds the chunk being sent, refilled from here.
  std::shared_ptr<ResponseStream> body_stream;
  bool body_ended = false;
  bool deferred = false;  // the data provider answered NGHTTP2_ERR_DEFERRED
  // Request completion deadline while receiving, response deadline while sending.
  Clock::time_point deadline = Clock::time_point::max();
};

namespace {

// A request copied out of its Stream, so that an offloaded handler never touches the session.
struct Pending {
  std::string target, content_type, amz_target, authorization;
  AwsRequest req;
};

nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

// nghttp2 callbacks. They run inside nghttp2_session_mem_recv/mem_send, i.e. on the strand.
struct Http2Session::Callbacks {
  static Http2Session& self(void* user) { return *static_cast<Http2Session*>(user); }

  static Stream* stream(nghttp2_session* session, int32_t id) {
    return static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, id));
  }

  static int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    Http2Session& h = self(user);
    auto s = std::make_unique<Stream>();
    s->id = frame->hd.stream_id;
    s->deadline = Clock::now() + h.host_.options().read_timeout;
    h.note_deadline(s->deadline);
    nghttp2_session_set_stream_user_data(session, s->id, s.get());
    h.streams_[s->id] = std::move(s);
    return 0;
  }

  static int on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    Stream* s = stream(session, frame->hd.stream_id);
    if (s == nullptr) return 0;
    Http2Session& h = self(user);
    s->header_bytes += namelen + valuelen + 32;
    if (s->header_bytes > h.host_.options().header_limit) s->headers_too_large = true;
    if (s->headers_too_large || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    // Names are lowercase (nghttp2 rejects others). The first of repeated fields wins, as
    // with Beast's operator[] in HTTP/1.1.
    auto first = [&](std::string& field) {
      if (field.empty()) field.assign(v);
    };
    if (n == ":method") {
      first(s->method);
    } else if (n == ":path") {
      first(s->path);
    } else if (n == "content-type") {
      first(s->content_type);
    } else if (n == "x-amz-target") {
      first(s->amz_target);
    } else if (n == "authorization") {
      first(s->authorization);
    } else if (n == "origin") {
      first(s->origin);
    } else if (n == "access-control-request-headers") {
      first(s->cors_request_headers);
    } else if (n == "access-control-request-method") {
      first(s->cors_request_method);
    } else if (n == "x-amz-date" || n == "date") {
      s->has_date = true;
    } else if (n == "x-amz-security-token") {
      s->has_security_token = true;
    } else if (n == "content-length" && !s->content_length) {
      uint64_t len = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), len);
      if (ec == std::errc() && p == v.data() + v.size()) s->content_length = len;
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data,
                           size_t len, void* user) {
    Stream* s = stream(session, id);
    if (s == nullptr || s->rejected) return 0;
    Http2Session& h = self(user);
    size_t limit = h.host_.options().body_limit;
    if (s->body.size() + len > limit) {
      h.reject_body(*s, 413, "Request Entity Too Large\n");
      return 0;
    }
    if (h.buffered_body_bytes_ + len > limit * kHttp2BufferedBodiesPerLimit) {
      // Too many large bodies in flight on this connection: refuse (not processed, so a
      // client may retry it).
      s->rejected = true;
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    s->body.append(reinterpret_cast<const char*>(data), len);
    s->counted += len;
    h.buffered_body_bytes_ += len;
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    Stream* s = stream(session, frame->hd.stream_id);
    if (s == nullptr) return 0;
    Http2Session& h = self(user);
    bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      h.on_request_headers_done(*s, end);
    } else if (end) {
      if (s->rejected) {
        s->request_done = true;
      } else {
        h.on_request_complete(*s);
      }
    }
    return 0;
  }

  static int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void*) {
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
    Stream* s = stream(session, frame->hd.stream_id);
    // Answered before the request ended (413/431): tell the client to stop sending
    // (RFC 9113 section 8.1).
    if (s != nullptr && !s->request_done) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t id, uint32_t, void* user) {
    Http2Session& h = self(user);
    auto it = h.streams_.find(id);
    if (it == h.streams_.end()) return 0;
    h.buffered_body_bytes_ -= it->second->counted;
    if (it->second->body_stream) it->second->body_stream->cancel();  // no-op once ended
    h.streams_.erase(it);
    if (h.streams_.empty()) {
      h.idle_since_ = Clock::now();
      h.note_deadline(h.idle_since_ + h.host_.options().read_timeout);
    }
    return 0;
  }

  static ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                           nghttp2_data_source* source, void*) {
    auto* s = static_cast<Stream*>(source->ptr);
    if (s->body_stream && s->sent == s->response_body.size() && !s->body_ended) {
      ResponseStream::Taken t = s->body_stream->take(256 * 1024);
      s->response_body = std::move(t.bytes);
      s->sent = 0;
      s->body_ended = t.ended;
      if (s->response_body.empty() && !t.ended) {
        s->deferred = true;
        return NGHTTP2_ERR_DEFERRED;  // resumed by the stream's on_ready
      }
    }
    size_t n = std::min(len, s->response_body.size() - s->sent);
    if (n > 0) std::memcpy(buf, s->response_body.data() + s->sent, n);
    s->sent += n;
    if (s->sent == s->response_body.size() && (!s->body_stream || s->body_ended)) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return static_cast<ssize_t>(n);
  }
};

Http2Session::Http2Session(tcp::socket socket, Http2Host& host, std::string initial,
                           std::string remote, std::shared_ptr<void> owner)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      host_(host),
      remote_(std::move(remote)),
      owner_(std::move(owner)),
      initial_(std::move(initial)),
      rng_(std::random_device{}()) {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Callbacks::on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Callbacks::on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &Callbacks::on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Callbacks::on_stream_close);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  // Peer's SETTINGS_MAX_CONCURRENT_STREAMS is irrelevant (no push); our own limit is sent
  // in SETTINGS and enforced by nghttp2 with RST_STREAM(REFUSED_STREAM).
  nghttp2_session_server_new2(&session_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
}

Http2Session::~Http2Session() {
  // nghttp2_session_del invokes no callbacks; streams_ is destroyed after it.
  nghttp2_session_del(session_);
  if (registered_) host_.http2_sessions().remove(this);
}

void Http2Session::start() {
  host_.http2_sessions().add(shared_from_this());
  registered_ = true;
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->on_start(); });
}

void Http2Session::on_start() {
  const HttpServerOptions& o = host_.options();
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kHttp2MaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kHttp2StreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<uint32_t>(std::min<size_t>(o.header_limit, UINT32_MAX))},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kHttp2ConnectionWindow);
  idle_since_ = Clock::now();
  note_deadline(idle_since_ + o.read_timeout);
  std::string initial = std::move(initial_);
  ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(initial.data()),
                                        initial.size());
  if (rv < 0) return close();
  do_write();
  do_read();
}

void Http2Session::shutdown() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->closed_) return;
    // Graceful: streams already started may finish; the session closes when none is left.
    nghttp2_submit_goaway(self->session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(self->session_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    self->do_write();
  });
}

void Http2Session::do_read() {
  if (closed_) return;
  socket_.async_read_some(asio::buffer(rbuf_),
                          [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                            self->on_read(ec, n);
                          });
}

void Http2Session::on_read(boost::system::error_code ec, size_t n) {
  if (closed_) return;
  if (ec) return close();
  // Negative results are fatal (bad preface, flooding, out of memory): nghttp2 has already
  // queued GOAWAY for ordinary protocol errors and returns success for them.
  ssize_t rv = nghttp2_session_mem_recv(session_, rbuf_.data(), n);
  if (rv < 0) return close();
  do_write();
  do_read();
}

void Http2Session::do_write() {
  if (writing_ || closed_) return;
  wbuf_.clear();
  while (wbuf_.size() < 64 * 1024) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) return close();
    if (n == 0) break;
    wbuf_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  if (wbuf_.empty()) {
    if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
      close();  // GOAWAY exchanged and no stream left
    }
    return;
  }
  writing_ = true;
  write_deadline_ = Clock::now() + host_.options().read_timeout;
  note_deadline(write_deadline_);
  asio::async_write(socket_, asio::buffer(wbuf_),
                    [self = shared_from_this()](boost::system::error_code ec, size_t) {
                      self->writing_ = false;
                      self->write_deadline_ = Clock::time_point::max();
                      if (ec) return self->close();
                      self->do_write();
                    });
}

void Http2Session::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& [id, st] : streams_) {
    if (st->body_stream) st->body_stream->cancel();
  }
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  timer_.cancel();
  if (registered_) {
    host_.http2_sessions().remove(this);
    registered_ = false;
  }
  owner_.reset();  // the connection stops being counted
}

void Http2Session::note_deadline(Clock::time_point t) {
  if (closed_ || t >= timer_at_) return;
  timer_at_ = t;
  timer_.expires_at(t);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    self->timer_at_ = Clock::time_point::max();
    self->on_timer();
  });
}

void Http2Session::on_timer() {
  if (closed_) return;
  auto now = Clock::now();
  auto timeout = host_.options().read_timeout;
  if (writing_ && write_deadline_ <= now) return close();  // the peer stopped reading
  Clock::time_point next = Clock::time_point::max();
  for (auto& [id, s] : streams_) {
    if (s->deadline <= now) {
      // A request that did not arrive in time, or a response the client did not take.
      s->deadline = Clock::time_point::max();
      s->rejected = true;
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
    next = std::min(next, s->deadline);
  }
  if (streams_.empty()) {
    if (idle_since_ + timeout <= now) {
      nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);  // idle: GOAWAY, close
    } else {
      next = std::min(next, idle_since_ + timeout);
    }
  }
  if (writing_) next = std::min(next, write_deadline_);
  do_write();
  if (next != Clock::time_point::max()) note_deadline(next);
}

void Http2Session::on_request_headers_done(Stream& s, bool end_stream) {
  if (end_stream) s.request_done = true;
  if (s.headers_too_large) return reject_body(s, 431, "Request Header Fields Too Large\n");
  if (s.content_length && *s.content_length > host_.options().body_limit) {
    return reject_body(s, 413, "Request Entity Too Large\n");
  }
  if (end_stream) on_request_complete(s);
}

void Http2Session::on_request_complete(Stream& s) {
  s.request_done = true;
  s.deadline = Clock::time_point::max();
  s.request_id = make_uuid_v4(rng_);
  if (s.method == "OPTIONS" && !s.origin.empty()) return respond(s, 200, {}, {}, {}, true);
  if (s.method == "GET") {
    std::optional<HttpResponse> r = host_.get_route(s.path);
    if (r) return respond(s, r->status, r->content_type, std::move(r->body), {});
  }
  if (s.method != "POST") {
    AwsResponse r = unknown_method_response();
    return respond(s, r.status, r.content_type, std::move(r.body), r.error_type, false,
                   r.query_error);
  }
  auto p = std::make_shared<Pending>();
  p->target = std::move(s.path);
  p->content_type = std::move(s.content_type);
  p->amz_target = std::move(s.amz_target);
  p->authorization = std::move(s.authorization);
  p->req.target = p->target;
  p->req.content_type = p->content_type;
  p->req.amz_target = p->amz_target;
  p->req.authorization = p->authorization;
  p->req.has_date = s.has_date;
  p->req.has_security_token = s.has_security_token;
  p->req.body = std::move(s.body);
  p->req.remote_address = remote_;
  p->req.request_id = s.request_id;
  p->req.run_on_connection = [ex = socket_.get_executor()](std::function<void()> task) {
    asio::dispatch(ex, std::move(task));
  };
  // Responses always come back through the strand: an asynchronous operation answers from
  // another thread.
  host_.run_request(p->req, [self = shared_from_this(), p, id = s.id,
                             ex = socket_.get_executor()](AwsResponse r) {
    asio::post(ex, [self, id, r = std::move(r)]() mutable {
      self->on_handler_done(id, std::move(r));
      self->do_write();
    });
  });
}

void Http2Session::on_handler_done(int32_t stream_id, AwsResponse r) {
  auto it = streams_.find(stream_id);
  if (closed_ || it == streams_.end()) {  // reset by the client meanwhile
    if (r.stream) r.stream->cancel();
    return;
  }
  if (r.stream) return respond_stream(*it->second, std::move(r));
  respond(*it->second, r.status, r.content_type, std::move(r.body), r.error_type, false,
          r.query_error);
}

void Http2Session::respond_stream(Stream& s, AwsResponse r) {
  if (s.responded) return r.stream->cancel();
  s.responded = true;
  s.body_stream = r.stream;
  s.deadline = Clock::time_point::max();  // lives as long as its producer writes
  std::string status_s = std::to_string(r.status);
  std::string id2 = make_id2(rng_);
  std::string date = http_date(std::chrono::system_clock::now());
  const bool cors = !s.origin.empty();
  nghttp2_nv nva[7];
  size_t n = 0;
  nva[n++] = make_nv(":status", status_s);
  nva[n++] = make_nv("content-type", r.content_type);
  nva[n++] = make_nv("x-amzn-requestid", s.request_id);
  nva[n++] = make_nv("x-amz-id-2", id2);
  nva[n++] = make_nv("date", date);
  if (cors) nva[n++] = make_nv("access-control-allow-origin", "*");
  if (cors) nva[n++] = make_nv("access-control-expose-headers", kCorsExposeHeaders);
  nghttp2_data_provider prd{};
  prd.source.ptr = &s;
  prd.read_callback = &Callbacks::read_body;
  if (nghttp2_submit_response(session_, s.id, nva, n, &prd) != 0) {
    r.stream->cancel();
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
    return;
  }
  // Bytes or the end became available: resume the deferred data provider on the strand.
  std::weak_ptr<Http2Session> weak = shared_from_this();
  r.stream->set_on_ready([weak, id = s.id, ex = socket_.get_executor()] {
    asio::post(ex, [weak, id] {
      auto self = weak.lock();
      if (!self || self->closed_) return;
      auto it = self->streams_.find(id);
      if (it == self->streams_.end() || !it->second->deferred) return;
      it->second->deferred = false;
      nghttp2_session_resume_data(self->session_, id);
      self->do_write();
    });
  });
}

void Http2Session::respond(Stream& s, int status, std::string_view content_type, std::string body,
                           std::string_view error_type, bool preflight,
                           std::string_view query_error) {
  if (s.responded) return;
  s.responded = true;
  if (s.request_id.empty()) s.request_id = make_uuid_v4(rng_);
  s.response_body = std::move(body);
  s.sent = 0;
  s.deadline = Clock::now() + host_.options().read_timeout;
  note_deadline(s.deadline);
  // Same headers as HTTP/1.1, lowercase, without connection-specific ones.
  std::string status_s = std::to_string(status);
  std::string length_s = std::to_string(s.response_body.size());
  std::string id2 = make_id2(rng_);
  std::string date = http_date(std::chrono::system_clock::now());
  // CORS (dispatcher.h): field names lowercase in HTTP/2.
  const auto cors =
      cors_headers(CorsRequest{s.origin, s.cors_request_headers, s.cors_request_method}, preflight);
  std::vector<std::string> cors_names;
  for (const auto& [k, v] : cors) {
    std::string name(k);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    cors_names.push_back(std::move(name));
  }
  nghttp2_nv nva[8 + 4];
  size_t n = 0;
  nva[n++] = make_nv(":status", status_s);
  if (!content_type.empty()) nva[n++] = make_nv("content-type", content_type);
  nva[n++] = make_nv("content-length", length_s);
  nva[n++] = make_nv("x-amzn-requestid", s.request_id);
  if (!preflight) nva[n++] = make_nv("x-amz-id-2", id2);
  nva[n++] = make_nv("date", date);
  if (!error_type.empty()) nva[n++] = make_nv("x-amzn-errortype", error_type);
  if (!query_error.empty()) nva[n++] = make_nv("x-amzn-query-error", query_error);
  for (size_t i = 0; i < cors.size() && i < 4; ++i) nva[n++] = make_nv(cors_names[i], cors[i].second);
  nghttp2_data_provider prd{};
  prd.source.ptr = &s;
  prd.read_callback = &Callbacks::read_body;
  // nghttp2 copies the header fields; the body is read from the Stream until it closes.
  int rv =
      nghttp2_submit_response(session_, s.id, nva, n, s.response_body.empty() ? nullptr : &prd);
  if (rv != 0) nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
}

void Http2Session::respond_plain(Stream& s, int status, std::string body) {
  host_.count_http_error(status);
  respond(s, status, "text/plain", std::move(body), {});
}

void Http2Session::reject_body(Stream& s, int status, std::string body) {
  s.rejected = true;
  buffered_body_bytes_ -= s.counted;
  s.counted = 0;
  std::string().swap(s.body);
  respond_plain(s, status, std::move(body));
}

// ---- Http2Sessions ----

void Http2Sessions::add(const std::shared_ptr<Http2Session>& s) {
  std::lock_guard lock(mu_);
  live_[s.get()] = s;
}

void Http2Sessions::remove(Http2Session* s) {
  std::lock_guard lock(mu_);
  if (live_.erase(s) > 0 && live_.empty()) cv_.notify_all();
}

void Http2Sessions::goaway_all(std::chrono::milliseconds timeout) {
  std::vector<std::shared_ptr<Http2Session>> sessions;
  {
    std::lock_guard lock(mu_);
    for (auto& [ptr, weak] : live_) {
      if (auto s = weak.lock()) sessions.push_back(std::move(s));
    }
  }
  for (auto& s : sessions) s->shutdown();
  sessions.clear();
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return live_.empty(); });
}

}  // namespace freshet::api
