// node::Node: the whole server over one data directory, started and stopped in-process.
#include "freshet/node/node.h"

#include <gtest/gtest.h>
#include <boost/asio.hpp>

#include <string>

#include "freshet/objstore/object_store.h"
#include "freshet/stream/engine.h"
#include "temp_dir.h"

namespace freshet::node {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// One HTTP/1.1 request on a fresh connection; returns the whole response.
std::string http(uint16_t port, const std::string& request) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(s, asio::buffer(request));
  std::string out;
  boost::system::error_code ec;
  char buf[4096];
  for (int i = 0; i < 1000; ++i) {
    const size_t n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

NodeOptions options_for(const std::string& dir) {
  NodeOptions o;
  o.listen = "127.0.0.1:0";
  o.data_dir = dir;
  o.handler_threads = 2;
  o.io_threads = 1;
  return o;
}

TEST(Node, ServesEveryApiAndKeepsStateAcrossRestarts) {
  testing::TempDir dir;
  {
    auto n = Node::open(options_for(dir.path()));
    ASSERT_TRUE(n.ok()) << n.error().to_string();
    ASSERT_TRUE((*n)->start().ok());
    EXPECT_NE((*n)->port(), 0);
    EXPECT_EQ((*n)->endpoint(), "http://127.0.0.1:" + std::to_string((*n)->port()));
    ASSERT_TRUE((*n)->engine()
                    .create_stream("us-east-1", "s", 2, stream::StreamMode::kProvisioned, {}, {})
                    .ok());
    ASSERT_TRUE((*n)->objects().create_bucket("landing").ok());

    const std::string health = http((*n)->port(),
                                     "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_NE(health.find("200 OK"), std::string::npos) << health;
    // A request without X-Amz-Target reaches S3 (the last REST handler): ListBuckets.
    const std::string list = http(
        (*n)->port(),
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: AWS4-HMAC-SHA256 "
        "Credential=k/20261130/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\n"
        "\r\n");
    EXPECT_NE(list.find("<Name>landing</Name>"), std::string::npos) << list;
    (*n)->stop();
    (*n)->stop();  // idempotent
  }
  auto again = Node::open(options_for(dir.path()));
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_TRUE((*again)->engine().describe_stream("us-east-1", "s").ok());
}

TEST(Node, RejectsABadListenAddress) {
  testing::TempDir dir;
  NodeOptions o = options_for(dir.path());
  o.listen = "no-port";
  auto n = Node::open(o);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace freshet::node
