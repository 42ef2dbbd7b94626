// Object store: buckets of immutable objects addressed by key, as S3 models them.
//
// One interface, implementations behind it:
//  - LocalObjectStore (local_store.h): buckets as folders under a directory; every object is
//    written atomically (temp file, fsync, rename, fsync directory) before a call returns.
//  - (planned) an external S3-compatible endpoint through libcurl's SigV4.
//
// Errors (Status/Result codes the callers branch on):
//   kNotFound       the bucket, the key or the upload does not exist (message says which:
//                   it starts with "bucket", "key" or "upload")
//   kAlreadyExists  create_bucket of an existing bucket
//   kResourceInUse  delete_bucket of a bucket that still holds objects
//   kInvalidArgument a bad name, part number or part list
//   kIoError/kNoSpace the disk failed; nothing acknowledged was lost
//
// Thread-safety: every method may be called from any thread concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "freshet/common/result.h"

namespace freshet::objstore {

struct BucketInfo {
  std::string name;
  int64_t creation_ms = 0;  // Unix milliseconds
};

// What a writer chooses about an object besides its bytes.
struct ObjectAttributes {
  std::string content_type;  // "" -> binary/octet-stream
  std::string content_encoding;
  std::string cache_control;
  std::string content_disposition;
  // User metadata (x-amz-meta-<name>), names lower-cased, sorted.
  std::vector<std::pair<std::string, std::string>> metadata;
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;  // quoted hex MD5, or "<md5 of part md5s>-<parts>" for multipart objects
  int64_t last_modified_ms = 0;
  ObjectAttributes attributes;
};

// A half-open byte range [first, last] resolved against an object (both inclusive).
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
};

struct ObjectData {
  ObjectInfo info;
  std::string bytes;  // the whole object, or the requested range (unless mapped)
  // Large reads may come from a read-only map of the object file instead: view points into
  // it and storage keeps it alive.
  std::shared_ptr<const void> storage;
  std::string_view view;
  std::string_view data() const { return storage ? view : std::string_view(bytes); }
};

struct ListOptions {
  std::string prefix;
  std::string delimiter;    // "" for none
  std::string start_after;  // keys (and common prefixes) strictly after this
  size_t max_keys = 1000;   // entries (keys + common prefixes) returned at most
};

struct ListResult {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  // When truncated: the last key or common prefix returned; pass as start_after to go on.
  std::string next_start_after;
};

struct PartInfo {
  int part_number = 0;
  uint64_t size = 0;
  std::string etag;  // quoted hex MD5
  int64_t last_modified_ms = 0;
};

struct UploadInfo {
  std::string upload_id;
  std::string key;
  int64_t initiated_ms = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Bucket names follow S3's rules (3-63 characters of a-z 0-9 . -, starting and ending with
  // a letter or digit); create_bucket checks them.
  virtual Status create_bucket(std::string_view bucket) = 0;
  virtual Status delete_bucket(std::string_view bucket) = 0;
  virtual Result<BucketInfo> head_bucket(std::string_view bucket) = 0;
  virtual Result<std::vector<BucketInfo>> list_buckets() = 0;

  // Durable when it returns: the object survives a crash or power loss.
  virtual Result<ObjectInfo> put_object(std::string_view bucket, std::string_view key,
                                        std::string_view bytes, const ObjectAttributes& attrs) = 0;
  virtual Result<ObjectInfo> head_object(std::string_view bucket, std::string_view key) = 0;
  // range: already resolved against the size from head_object (first <= last < size).
  virtual Result<ObjectData> get_object(std::string_view bucket, std::string_view key,
                                        std::optional<ByteRange> range) = 0;
  // Deleting a missing key succeeds (as S3); a missing bucket is kNotFound.
  virtual Status delete_object(std::string_view bucket, std::string_view key) = 0;
  virtual Result<ListResult> list_objects(std::string_view bucket, const ListOptions& opts) = 0;

  // Multipart uploads: parts 1..10000, assembled in the order given to complete.
  virtual Result<UploadInfo> create_upload(std::string_view bucket, std::string_view key,
                                           const ObjectAttributes& attrs) = 0;
  virtual Result<PartInfo> upload_part(std::string_view bucket, std::string_view upload_id,
                                       int part_number, std::string_view bytes) = 0;
  // parts: (part number, ETag as the client sent it, quotes optional), ascending.
  virtual Result<ObjectInfo> complete_upload(
      std::string_view bucket, std::string_view key, std::string_view upload_id,
      const std::vector<std::pair<int, std::string>>& parts) = 0;
  virtual Status abort_upload(std::string_view bucket, std::string_view upload_id) = 0;
  virtual Result<std::vector<PartInfo>> list_parts(std::string_view bucket,
                                                   std::string_view upload_id) = 0;
  virtual Result<std::vector<UploadInfo>> list_uploads(std::string_view bucket) = 0;
};

// S3's bucket-name rules (the subset that matters for folders and host names).
bool valid_bucket_name(std::string_view name);

// Hex MD5 of bytes, quoted as S3 sends ETags.
std::string quoted_md5(std::string_view bytes);

}  // namespace freshet::objstore
