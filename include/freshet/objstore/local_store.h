// LocalObjectStore: buckets as folders under one directory (docs/format.md, "Object store").
//
//   <root>/<bucket>/bucket.meta            creation time (an object file with no data)
//   <root>/<bucket>/objects/<hh>/<sha256>  one file per object: header (key, size, ETag,
//                                          attributes; CRC32C) then the bytes; hh = first byte
//   <root>/<bucket>/uploads/<id>/          a multipart upload: upload.meta and part files
//   <root>/<bucket>/tmp/                   files being written (removed at open)
//
// Writes: temp file in tmp/, written and fsynced, renamed into place, directory fsynced; only
// then does the call return. A crash leaves the old object or the new one, never a mix.
//
// The key index (sorted keys -> ObjectInfo, per bucket) lives in memory and is rebuilt at
// open() from the object files' headers; reads open the object file itself.
//
// Locks: mu_ guards buckets_ (the map of buckets); each Bucket's mu guards its index and
// orders renames into its objects/ folder with index updates. Order: mu_ before Bucket::mu.
// File writes and fsyncs happen outside both, except the rename that publishes an object.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "freshet/common/file.h"
#include "freshet/objstore/object_store.h"

namespace freshet::objstore {

struct LocalStoreOptions {
  std::string root;                  // created if missing
  std::shared_ptr<FileSystem> fs;    // null: the POSIX file system
  uint64_t max_object_bytes = 5ull << 30;  // S3's single-object limit for one PUT is 5 GiB
  // false: acknowledge after write() and rename, without fsyncs (freshet serve
  // --durability os); a machine crash may lose recent objects, never tear one.
  bool sync = true;
};

class LocalObjectStore final : public ObjectStore {
 public:
  // Creates the root, removes leftovers in every tmp/ folder and rebuilds the key indexes.
  static Result<std::unique_ptr<LocalObjectStore>> open(LocalStoreOptions options);

  Status create_bucket(std::string_view bucket) override;
  Status delete_bucket(std::string_view bucket) override;
  Result<BucketInfo> head_bucket(std::string_view bucket) override;
  Result<std::vector<BucketInfo>> list_buckets() override;

  Result<ObjectInfo> put_object(std::string_view bucket, std::string_view key,
                                std::string_view bytes, const ObjectAttributes& attrs) override;
  Result<ObjectInfo> head_object(std::string_view bucket, std::string_view key) override;
  Result<ObjectData> get_object(std::string_view bucket, std::string_view key,
                                std::optional<ByteRange> range) override;
  Status delete_object(std::string_view bucket, std::string_view key) override;
  Result<ListResult> list_objects(std::string_view bucket, const ListOptions& opts) override;

  Result<UploadInfo> create_upload(std::string_view bucket, std::string_view key,
                                   const ObjectAttributes& attrs) override;
  Result<PartInfo> upload_part(std::string_view bucket, std::string_view upload_id,
                               int part_number, std::string_view bytes) override;
  Result<ObjectInfo> complete_upload(
      std::string_view bucket, std::string_view key, std::string_view upload_id,
      const std::vector<std::pair<int, std::string>>& parts) override;
  Status abort_upload(std::string_view bucket, std::string_view upload_id) override;
  Result<std::vector<PartInfo>> list_parts(std::string_view bucket,
                                           std::string_view upload_id) override;
  Result<std::vector<UploadInfo>> list_uploads(std::string_view bucket) override;

  struct Bucket;

 private:
  explicit LocalObjectStore(LocalStoreOptions options);
  Result<std::shared_ptr<Bucket>> find_bucket(std::string_view name);
  Status load_bucket(const std::string& name);
  std::string bucket_dir(std::string_view bucket) const;
  std::string object_path(std::string_view bucket, std::string_view key) const;
  std::string temp_path(std::string_view bucket);
  Result<std::string> upload_dir(std::string_view bucket, std::string_view upload_id) const;

  LocalStoreOptions options_;
  std::shared_ptr<FileSystem> fs_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Bucket>, std::less<>> buckets_;  // GUARDED_BY(mu_)
  uint64_t temp_counter_ = 0;                                            // GUARDED_BY(mu_)
};

}  // namespace freshet::objstore
