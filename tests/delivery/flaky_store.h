// A test ObjectStore that delegates to another and can fail a put before or after writing.
#pragma once

#include <atomic>

#include "freshet/objstore/object_store.h"

namespace freshet::delivery::test_support {

using objstore::ObjectStore;

// Delegates to a LocalObjectStore; put_object can be made to write and then report failure
// (what a crash between the object write and the checkpoint looks like to delivery).
class FlakyStore final : public ObjectStore {
 public:
  explicit FlakyStore(ObjectStore& inner) : in_(inner) {}
  std::atomic<int> fail_after_write{0};
  std::atomic<int> fail_before_write{0};
  std::atomic<int> puts{0};

  Status create_bucket(std::string_view b) override { return in_.create_bucket(b); }
  Status delete_bucket(std::string_view b) override { return in_.delete_bucket(b); }
  Result<objstore::BucketInfo> head_bucket(std::string_view b) override { return in_.head_bucket(b); }
  Result<std::vector<objstore::BucketInfo>> list_buckets() override { return in_.list_buckets(); }
  Result<objstore::ObjectInfo> put_object(std::string_view b, std::string_view k,
                                          std::string_view bytes,
                                          const objstore::ObjectAttributes& a) override {
    ++puts;
    if (fail_before_write > 0) {
      --fail_before_write;
      return Error(ErrorCode::kIoError, "injected: destination down");
    }
    auto r = in_.put_object(b, k, bytes, a);
    if (fail_after_write > 0) {
      --fail_after_write;
      return Error(ErrorCode::kIoError, "injected: crash after the write");
    }
    return r;
  }
  Result<objstore::ObjectInfo> head_object(std::string_view b, std::string_view k) override {
    return in_.head_object(b, k);
  }
  Result<objstore::ObjectData> get_object(std::string_view b, std::string_view k,
                                          std::optional<objstore::ByteRange> r) override {
    return in_.get_object(b, k, r);
  }
  Status delete_object(std::string_view b, std::string_view k) override {
    return in_.delete_object(b, k);
  }
  Result<objstore::ListResult> list_objects(std::string_view b,
                                            const objstore::ListOptions& o) override {
    return in_.list_objects(b, o);
  }
  Result<objstore::UploadInfo> create_upload(std::string_view b, std::string_view k,
                                             const objstore::ObjectAttributes& a) override {
    return in_.create_upload(b, k, a);
  }
  Result<objstore::PartInfo> upload_part(std::string_view b, std::string_view id, int n,
                                         std::string_view bytes) override {
    return in_.upload_part(b, id, n, bytes);
  }
  Result<objstore::ObjectInfo> complete_upload(
      std::string_view b, std::string_view k, std::string_view id,
      const std::vector<std::pair<int, std::string>>& p) override {
    return in_.complete_upload(b, k, id, p);
  }
  Status abort_upload(std::string_view b, std::string_view id) override {
    return in_.abort_upload(b, id);
  }
  Result<std::vector<objstore::PartInfo>> list_parts(std::string_view b,
                                                     std::string_view id) override {
    return in_.list_parts(b, id);
  }
  Result<std::vector<objstore::UploadInfo>> list_uploads(std::string_view b) override {
    return in_.list_uploads(b);
  }

 private:
  ObjectStore& in_;
};

}  // namespace freshet::delivery::test_support
