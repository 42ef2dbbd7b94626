// The object store's S3 client (libcurl, SigV4) against Freshet's own S3 API on a real
// HttpServer: single and multipart puts, ranged gets, errors, and retries while the endpoint
// is down.
#include <gtest/gtest.h>

#include "freshet/api/s3.h"
#include "freshet/objstore/local_store.h"
#include "freshet/objstore/s3_store.h"
#include "testing/temp_dir.h"

namespace freshet::api {
namespace {

class S3ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    objstore::LocalStoreOptions lo;
    lo.root = dir_.path();
    local_ = std::move(objstore::LocalObjectStore::open(lo)).value();
    s3_ = std::make_unique<S3Api>(*local_, metrics_, S3ApiOptions{});
    HttpServerOptions ho;
    server_ = std::make_unique<HttpServer>(ho, services_, metrics_);
    server_->set_rest_handler([this](RestRequest& r) { return s3_->handle(r); });
    ASSERT_TRUE(server_->start().ok());
    objstore::S3StoreOptions so;
    so.endpoint = "http://127.0.0.1:" + std::to_string(server_->port());
    so.access_key = "test";
    so.secret_key = "test";
    so.multipart_threshold = 6 << 20;
    so.part_bytes = 5 << 20;
    client_ = std::move(objstore::open_s3_store(so)).value();
  }

  testing::TempDir dir_;
  metrics::Registry metrics_;
  ServiceRegistry services_;
  std::unique_ptr<objstore::LocalObjectStore> local_;
  std::unique_ptr<S3Api> s3_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<objstore::ObjectStore> client_;
};

TEST_F(S3ClientTest, PutGetMultipartAndErrors) {
  ASSERT_TRUE(client_->create_bucket("remote").ok());
  EXPECT_EQ(client_->create_bucket("remote").code(), ErrorCode::kAlreadyExists);
  ASSERT_TRUE(client_->head_bucket("remote").ok());
  EXPECT_EQ(client_->head_bucket("absent").code(), ErrorCode::kNotFound);

  auto small = client_->put_object("remote", "a dir/key+1", "hello", {});
  ASSERT_TRUE(small.ok()) << small.error().to_string();
  EXPECT_EQ(small->etag, "\"5d41402abc4b2a76b9719d911017c592\"");
  EXPECT_EQ(local_->get_object("remote", "a dir/key+1", std::nullopt)->data(), "hello");

  std::string big(13 * 1024 * 1024 + 11, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + 7);
  auto mp = client_->put_object("remote", "big.bin", big, {});
  ASSERT_TRUE(mp.ok()) << mp.error().to_string();
  EXPECT_NE(mp->etag.find("-3"), std::string::npos);  // three parts
  auto back = client_->get_object("remote", "big.bin", std::nullopt);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->data() == big);
  auto range = client_->get_object("remote", "big.bin", objstore::ByteRange{10, 19});
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->data(), std::string_view(big).substr(10, 10));
  auto head = client_->head_object("remote", "big.bin");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, big.size());

  EXPECT_EQ(client_->get_object("remote", "missing", std::nullopt).code(), ErrorCode::kNotFound);
  EXPECT_EQ(client_->put_object("absent", "k", "v", {}).code(), ErrorCode::kNotFound);
  ASSERT_TRUE(client_->delete_object("remote", "a dir/key+1").ok());
  EXPECT_EQ(local_->head_object("remote", "a dir/key+1").code(), ErrorCode::kNotFound);
  EXPECT_EQ(client_->list_buckets().code(), ErrorCode::kInvalidArgument);
}

TEST_F(S3ClientTest, EndpointDownIsUnavailableAfterRetries) {
  objstore::S3StoreOptions so;
  so.endpoint = "http://127.0.0.1:1";  // nothing listens there
  so.max_attempts = 2;
  auto down = std::move(objstore::open_s3_store(so)).value();
  auto r = down->put_object("b", "k", "v", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace freshet::api
