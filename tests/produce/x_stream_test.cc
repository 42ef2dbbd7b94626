// The X filtered-stream source against a local fake of the X API: recorded frames in chunks
// split mid-line, keep-alive newlines, a disconnect, an HTTP error, then a good connection.
#include "freshet/produce/x_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace freshet::produce {
namespace {

const char* kFrames[] = {
    R"({"data":{"id":"1","text":"hello #AI","author_id":"11"},"matching_rules":[{"id":"9","tag":"ai"}]})",
    R"({"data":{"id":"2","text":"こんにちは 🌸","author_id":"12"},"matching_rules":[{"id":"9","tag":"ai"}]})",
    R"({"data":{"id":"3","text":"third","author_id":"13"},"matching_rules":[{"id":"9","tag":"ai"}]})",
    R"({"data":{"id":"4","text":"fourth","author_id":"11"},"matching_rules":[{"id":"9","tag":"ai"}]})",
};

// Serves connections one at a time from a script: the rules POST, then per stream connection
// 1: frames 1 and 2 (chunked, split mid-frame, keep-alives between), then a disconnect;
// 2: HTTP 503; 3: frames 3 and 4 and keep-alives until the test ends.
class FakeX {
 public:
  FakeX() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 8);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeX() {
    done_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  static void send_all(int c, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = ::send(c, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  static std::string chunk(const std::string& s) {
    char len[16];
    std::snprintf(len, sizeof len, "%zx\r\n", s.size());
    return len + s + "\r\n";
  }
  std::string read_request(int c) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return req;
      req.append(buf, static_cast<size_t>(n));
    }
    // A body (the rules POST) of Content-Length bytes.
    const size_t cl = req.find("Content-Length: ");
    if (cl != std::string::npos) {
      const size_t want = std::stoul(req.substr(cl + 16));
      const size_t have = req.size() - req.find("\r\n\r\n") - 4;
      for (size_t got = have; got < want;) {
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
        got += static_cast<size_t>(n);
      }
    }
    return req;
  }
  void serve() {
    int stream_connections = 0;
    while (!done_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      const std::string req = read_request(c);
      {
        std::lock_guard lock(mu_);
        requests_.push_back(req);
      }
      const std::string chunked =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
      if (req.rfind("POST /2/tweets/search/stream/rules", 0) == 0) {
        const std::string body = R"({"data":[{"value":"#AI","tag":"ai","id":"9"}],"meta":{"summary":{"created":1}}})";
        send_all(c, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
      } else if (++stream_connections == 1) {
        const std::string f1 = std::string(kFrames[0]) + "\r\n";
        const std::string f2 = std::string(kFrames[1]) + "\r\n";
        send_all(c, chunked + chunk(f1.substr(0, 20)) + chunk(f1.substr(20)) + chunk("\r\n") +
                        chunk(f2.substr(0, 7)));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        send_all(c, chunk(f2.substr(7)) + chunk("\r\n"));
        // Then the connection drops, mid-stream.
      } else if (stream_connections == 2) {
        send_all(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      } else {
        send_all(c, chunked + chunk(std::string(kFrames[2]) + "\r\n" + kFrames[3] + "\r\n"));
        while (!done_) {
          send_all(c, chunk("\r\n"));  // keep-alives
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
      ::close(c);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> done_{false};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

TEST(XStreamSource, ReadsFramesAcrossChunksDisconnectsAndErrors) {
  FakeX x;
  XStreamOptions o;
  o.base_url = x.url();
  o.bearer_token = "token-123";
  o.rules = {{"\"machine learning\" #AI lang:en", "ai"}};  // quotes escaped in the JSON
  o.network_step_ms = 50;
  o.http_first_ms = 100;
  auto src = XStreamSource::open(o);
  ASSERT_TRUE(src.ok()) << src.error().message();
  std::vector<Record> got(4);
  for (Record& r : got) {
    auto more = (*src)->next(0, &r);
    ASSERT_TRUE(more.ok());
    ASSERT_TRUE(*more);
  }
  for (int i = 0; i < 4; ++i) EXPECT_EQ(got[i].data, kFrames[i]);
  EXPECT_EQ(got[0].partition_key, "11");
  EXPECT_EQ(got[1].partition_key, "12");
  // Keep-alives arrive; the next frame never does; cancel() ends next().
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (*src)->cancel();
  });
  Record r;
  auto end = (*src)->next(0, &r);
  canceller.join();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(*end);
  const XStreamStats s = (*src)->stats();
  EXPECT_EQ(s.frames, 4u);
  EXPECT_EQ(s.reconnects, 2u);   // after the disconnect and after the 503
  EXPECT_EQ(s.connections, 2u);  // the two that answered 200
  EXPECT_GE(s.keep_alives, 3u);

  const std::vector<std::string> reqs = x.requests();
  ASSERT_GE(reqs.size(), 4u);
  EXPECT_EQ(reqs[0].rfind("POST /2/tweets/search/stream/rules", 0), 0u);
  EXPECT_NE(reqs[0].find(R"({"add":[{"value":"\"machine learning\" #AI lang:en","tag":"ai"}]})"),
            std::string::npos)
      << reqs[0];
  for (const std::string& q : reqs) {
    EXPECT_NE(q.find("Authorization: Bearer token-123"), std::string::npos) << q;
  }
  EXPECT_EQ(reqs[1].rfind("GET /2/tweets/search/stream?tweet.fields=", 0), 0u) << reqs[1];
}

TEST(XStreamSource, RefusedRulesOrNoTokenFailToOpen) {
  XStreamOptions o;
  o.base_url = "http://127.0.0.1:1";
  EXPECT_EQ(XStreamSource::open(o).code(), ErrorCode::kInvalidArgument);  // no token
  o.bearer_token = "t";
  o.rules = {{"x", ""}};
  EXPECT_FALSE(XStreamSource::open(o).ok());  // nobody answers the rules request
}

}  // namespace
}  // namespace freshet::produce
