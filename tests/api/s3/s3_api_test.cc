// S3Api against a LocalObjectStore, without the network: routing, XML errors, ranges,
// conditions, aws-chunked bodies and their checksums.
#include "freshet/api/s3.h"

#include <gtest/gtest.h>

#include <deque>

#include "chunked.h"
#include "freshet/objstore/local_store.h"
#include "testing/temp_dir.h"

namespace freshet::api {
namespace {

class S3ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    objstore::LocalStoreOptions o;
    o.root = dir_.path();
    store_ = std::move(objstore::LocalObjectStore::open(o)).value();
    api_ = std::make_unique<S3Api>(*store_, metrics_, S3ApiOptions{});
  }

  RestResponse call(std::string method, std::string target, std::string body = {},
                    std::vector<std::pair<std::string, std::string>> headers = {},
                    std::string host = "127.0.0.1:4567") {
    held_.push_back({std::move(method), std::move(target), std::move(host), std::move(headers)});
    Held& h = held_.back();
    RestRequest r;
    r.method = h.method;
    r.target = h.target;
    r.host = h.host;
    for (auto& [k, v] : h.headers) r.headers.emplace_back(k, v);
    r.body = std::move(body);
    r.request_id = "req-1";
    auto resp = api_->handle(r);
    EXPECT_TRUE(resp.has_value());
    return resp ? *resp : RestResponse{};
  }

  static std::string header(const RestResponse& r, std::string_view name) {
    for (auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return {};
  }

  struct Held {
    std::string method, target, host;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  std::deque<Held> held_;
  testing::TempDir dir_;
  metrics::Registry metrics_;
  std::unique_ptr<objstore::LocalObjectStore> store_;
  std::unique_ptr<S3Api> api_;
};

TEST_F(S3ApiTest, BucketErrorsAsS3Xml) {
  RestResponse r = call("GET", "/missing?list-type=2");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("<Code>NoSuchBucket</Code>"), std::string::npos);
  EXPECT_NE(r.body.find("<BucketName>missing</BucketName>"), std::string::npos);
  EXPECT_EQ(call("PUT", "/bkt").status, 200);
  r = call("PUT", "/bkt");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("BucketAlreadyOwnedByYou"), std::string::npos);
  EXPECT_EQ(call("PUT", "/Bad_Bucket").status, 400);
  EXPECT_EQ(call("PUT", "/bkt/k", "v").status, 200);
  r = call("DELETE", "/bkt");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("BucketNotEmpty"), std::string::npos);
  r = call("HEAD", "/bkt/nokey");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.body.empty());
  // A JSON-protocol POST is declined, not answered.
  RestRequest post;
  post.method = "POST";
  post.target = "/";
  EXPECT_FALSE(api_->handle(post).has_value());
}

TEST_F(S3ApiTest, VirtualHostedStyle) {
  EXPECT_EQ(call("PUT", "/", {}, {}, "vbucket.localhost:4567").status, 200);
  EXPECT_EQ(call("PUT", "/a%20b.txt", "data", {}, "vbucket.localhost").status, 200);
  RestResponse r = call("GET", "/vbucket/a%20b.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "data");
}

TEST_F(S3ApiTest, RangesAndConditions) {
  ASSERT_EQ(call("PUT", "/bkt").status, 200);
  RestResponse put = call("PUT", "/bkt/k", "0123456789");
  std::string etag = header(put, "ETag");
  ASSERT_FALSE(etag.empty());
  RestResponse r = call("GET", "/bkt/k", {}, {{"Range", "bytes=2-4"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "234");
  EXPECT_EQ(header(r, "Content-Range"), "bytes 2-4/10");
  EXPECT_EQ(call("GET", "/bkt/k", {}, {{"Range", "bytes=-3"}}).body, "789");
  EXPECT_EQ(call("GET", "/bkt/k", {}, {{"Range", "bytes=7-"}}).body, "789");
  EXPECT_EQ(call("GET", "/bkt/k", {}, {{"Range", "bytes=8-100"}}).body, "89");
  r = call("GET", "/bkt/k", {}, {{"Range", "bytes=10-"}});
  EXPECT_EQ(r.status, 416);
  EXPECT_NE(r.body.find("InvalidRange"), std::string::npos);
  EXPECT_EQ(call("GET", "/bkt/k", {}, {{"Range", "items=1-2"}}).status, 200);
  EXPECT_EQ(call("GET", "/bkt/k", {}, {{"If-None-Match", etag}}).status, 304);
  EXPECT_EQ(call("GET", "/bkt/k", {}, {{"If-Match", "\"nope\""}}).status, 412);
  EXPECT_EQ(call("GET", "/bkt/k", {}, {{"If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"}})
                .status,
            304);
  EXPECT_EQ(call("GET", "/bkt/k", {}, {{"If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT"}})
                .status,
            200);
  r = call("HEAD", "/bkt/k");
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(r.head_length.has_value());
  EXPECT_EQ(*r.head_length, 10u);
}

TEST_F(S3ApiTest, AwsChunkedUploadChecksumsVerified) {
  ASSERT_EQ(call("PUT", "/bkt").status, 200);
  const std::string data = "hello world";
  const std::string good = s3::checksum_base64("crc32", data);
  std::vector<std::pair<std::string, std::string>> h = {
      {"Content-Encoding", "aws-chunked"},
      {"x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
      {"x-amz-decoded-content-length", "11"},
      {"x-amz-trailer", "x-amz-checksum-crc32"}};
  RestResponse r = call("PUT", "/bkt/k", "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:" + good +
                                             "\r\n\r\n",
                        h);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(call("GET", "/bkt/k").body, data);
  r = call("PUT", "/bkt/k2", "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", h);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("BadDigest"), std::string::npos);
  EXPECT_EQ(call("GET", "/bkt/k2").status, 404);
  h[2].second = "12";
  r = call("PUT", "/bkt/k3", "b\r\nhello world\r\n0\r\n\r\n", h);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("IncompleteBody"), std::string::npos);
  // A plain body with a wrong x-amz-content-sha256 or Content-MD5.
  r = call("PUT", "/bkt/k4", "abc", {{"x-amz-content-sha256", std::string(64, '0')}});
  EXPECT_NE(r.body.find("XAmzContentSHA256Mismatch"), std::string::npos);
  r = call("PUT", "/bkt/k4", "abc", {{"Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA=="}});
  EXPECT_NE(r.body.find("BadDigest"), std::string::npos);
}

TEST_F(S3ApiTest, ListObjectsV2PagingAndUrlEncoding) {
  ASSERT_EQ(call("PUT", "/bkt").status, 200);
  for (std::string k : {"a%2F1", "a%2F2", "b%201", "c"}) {
    ASSERT_EQ(call("PUT", "/bkt/" + k, "x").status, 200);
  }
  RestResponse r = call("GET", "/bkt?list-type=2&max-keys=2&encoding-type=url");
  EXPECT_NE(r.body.find("<IsTruncated>true</IsTruncated>"), std::string::npos);
  size_t p = r.body.find("<NextContinuationToken>");
  ASSERT_NE(p, std::string::npos);
  size_t e = r.body.find("</NextContinuationToken>");
  std::string token = r.body.substr(p + 23, e - p - 23);
  std::string enc;
  for (char c : token) {
    if (c == '+' || c == '/' || c == '=') {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", static_cast<unsigned char>(c));
      enc += buf;
    } else {
      enc.push_back(c);
    }
  }
  r = call("GET", "/bkt?list-type=2&max-keys=2&encoding-type=url&continuation-token=" + enc);
  EXPECT_NE(r.body.find("<Key>b%201</Key>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<IsTruncated>false</IsTruncated>"), std::string::npos);
  r = call("GET", "/bkt?list-type=2&continuation-token=bogus");
  EXPECT_EQ(r.status, 400);
  r = call("GET", "/bkt?list-type=2&delimiter=/");
  EXPECT_NE(r.body.find("<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes>"),
            std::string::npos);
}

TEST_F(S3ApiTest, DeleteObjectsAndCopy) {
  ASSERT_EQ(call("PUT", "/bkt").status, 200);
  ASSERT_EQ(call("PUT", "/bkt/a", "A", {{"x-amz-meta-x", "1"}}).status, 200);
  RestResponse r = call("PUT", "/bkt/b", {}, {{"x-amz-copy-source", "/bkt/a"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<CopyObjectResult"), std::string::npos);
  r = call("GET", "/bkt/b");
  EXPECT_EQ(r.body, "A");
  EXPECT_EQ(header(r, "x-amz-meta-x"), "1");
  EXPECT_EQ(call("PUT", "/bkt/c", {}, {{"x-amz-copy-source", "bkt/none"}}).status, 404);
  r = call("POST", "/bkt?delete",
           "<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object></Delete>");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<Deleted><Key>b</Key></Deleted>"), std::string::npos);
  EXPECT_EQ(call("GET", "/bkt/a").status, 404);
  EXPECT_EQ(call("POST", "/bkt?delete", "<Delete><Object></Object>").status, 400);
}

}  // namespace
}  // namespace freshet::api
