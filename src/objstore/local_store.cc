#include "freshet/objstore/local_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cstring>
#include <random>

#include "object_file.h"

namespace freshet::objstore {

struct LocalObjectStore::Bucket {
  std::string name;
  int64_t creation_ms = 0;
  std::mutex mu;
  std::map<std::string, ObjectInfo, std::less<>> objects;  // GUARDED_BY(mu)
  bool deleted = false;                                    // GUARDED_BY(mu)
};

namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string hex(const unsigned char* p, size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 15]);
  }
  return out;
}

std::string digest(const EVP_MD* md, std::string_view bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), out, &n, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error not_found(std::string what) { return Error(ErrorCode::kNotFound, std::move(what)); }

constexpr uint64_t kMapThreshold = 1 << 20;  // reads this large are served from a map

// A read-only File over a mapped object file (to parse its header with the same code).
class MappedAsFile final : public File {
 public:
  explicit MappedAsFile(const MappedFile& m) : m_(m) {}
  Status write_at(const void*, size_t, uint64_t) override {
    return Error(ErrorCode::kInvalidArgument, "read-only");
  }
  Result<size_t> read_at(void* d, size_t n, uint64_t o) const override {
    if (o >= m_.size()) return size_t{0};
    n = std::min<uint64_t>(n, m_.size() - o);
    std::memcpy(d, m_.data() + o, n);
    return n;
  }
  Status sync() override { return {}; }
  Status truncate(uint64_t) override { return Error(ErrorCode::kInvalidArgument, "read-only"); }
  Result<uint64_t> size() const override { return uint64_t{m_.size()}; }
  const std::string& path() const override { return path_; }

 private:
  const MappedFile& m_;
  std::string path_ = "(mapped object)";
};

std::string unquote(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

// The smallest string greater than every string starting with p ("" if there is none).
std::string prefix_successor(std::string p) {
  while (!p.empty() && static_cast<unsigned char>(p.back()) == 0xff) p.pop_back();
  if (!p.empty()) p.back() = static_cast<char>(static_cast<unsigned char>(p.back()) + 1);
  return p;
}

bool valid_upload_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// Removes a directory tree through the FileSystem (so injected file systems see it too).
// A missing path is not an error.
Status remove_tree(FileSystem& fs, const std::string& path) {
  if (!fs.exists(path)) return {};
  Result<std::vector<std::string>> names = fs.list_dir(path);
  if (!names.ok()) return fs.remove(path);  // a file
  for (const std::string& n : *names) FRESHET_RETURN_IF_ERROR(remove_tree(fs, path + "/" + n));
  return fs.remove_dir(path);
}

}  // namespace

bool valid_bucket_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!alnum(c) && c != '-' && c != '.') return false;
    if (c == '.' && i > 0 && (name[i - 1] == '.' || name[i - 1] == '-')) return false;
    if (c == '-' && i > 0 && name[i - 1] == '.') return false;
  }
  return true;
}

std::string quoted_md5(std::string_view bytes) {
  std::string d = digest(EVP_md5(), bytes);
  return "\"" + hex(reinterpret_cast<const unsigned char*>(d.data()), d.size()) + "\"";
}

namespace {

// --durability os: the same writes and renames, without waiting for the disk.
class NoSyncFile final : public File {
 public:
  explicit NoSyncFile(std::unique_ptr<File> f) : f_(std::move(f)) {}
  Status write_at(const void* d, size_t n, uint64_t o) override { return f_->write_at(d, n, o); }
  Result<size_t> read_at(void* d, size_t n, uint64_t o) const override {
    return f_->read_at(d, n, o);
  }
  Status sync() override { return {}; }
  Status truncate(uint64_t size) override { return f_->truncate(size); }
  Result<uint64_t> size() const override { return f_->size(); }
  const std::string& path() const override { return f_->path(); }

 private:
  std::unique_ptr<File> f_;
};

class NoSyncFileSystem final : public FileSystem {
 public:
  explicit NoSyncFileSystem(std::shared_ptr<FileSystem> fs) : fs_(std::move(fs)) {}
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    FRESHET_ASSIGN_OR_RETURN(std::unique_ptr<File> f, fs_->open(path, mode));
    return std::unique_ptr<File>(new NoSyncFile(std::move(f)));
  }
  Result<std::unique_ptr<MappedFile>> map_readonly(const std::string& path) override {
    return fs_->map_readonly(path);
  }
  Status remove(const std::string& path) override { return fs_->remove(path); }
  Status remove_dir(const std::string& path) override { return fs_->remove_dir(path); }
  Status rename(const std::string& from, const std::string& to) override {
    return fs_->rename(from, to);
  }
  Status create_dirs(const std::string& path) override { return fs_->create_dirs(path); }
  Status sync_dir(const std::string&) override { return {}; }
  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    return fs_->list_dir(path);
  }
  bool exists(const std::string& path) override { return fs_->exists(path); }

 private:
  std::shared_ptr<FileSystem> fs_;
};

}  // namespace

LocalObjectStore::LocalObjectStore(LocalStoreOptions options)
    : options_(std::move(options)), fs_(options_.fs ? options_.fs : posix_file_system()) {
  if (!options_.sync) fs_ = std::make_shared<NoSyncFileSystem>(fs_);
}

Result<std::unique_ptr<LocalObjectStore>> LocalObjectStore::open(LocalStoreOptions options) {
  std::unique_ptr<LocalObjectStore> s(new LocalObjectStore(std::move(options)));
  FRESHET_RETURN_IF_ERROR(create_dirs_durably(*s->fs_, s->options_.root));
  FRESHET_ASSIGN_OR_RETURN(std::vector<std::string> names, s->fs_->list_dir(s->options_.root));
  for (const std::string& name : names) {
    if (!valid_bucket_name(name)) {
      // Leftovers of an interrupted create_bucket or delete_bucket.
      if (name.rfind(".tmp-", 0) == 0 || name.rfind(".trash-", 0) == 0) {
        FRESHET_RETURN_IF_ERROR(remove_tree(*s->fs_, s->options_.root + "/" + name));
      }
      continue;
    }
    FRESHET_RETURN_IF_ERROR(s->load_bucket(name));
  }
  return s;
}

Status LocalObjectStore::load_bucket(const std::string& name) {
  const std::string dir = bucket_dir(name);
  auto b = std::make_shared<Bucket>();
  b->name = name;
  FRESHET_ASSIGN_OR_RETURN(std::unique_ptr<File> meta,
                           fs_->open(dir + "/bucket.meta", OpenMode::kReadOnly));
  FRESHET_ASSIGN_OR_RETURN(ObjectHeader mh, read_object_header(*meta));
  b->creation_ms = mh.info.last_modified_ms;
  FRESHET_RETURN_IF_ERROR(remove_tree(*fs_, dir + "/tmp"));
  FRESHET_RETURN_IF_ERROR(fs_->create_dirs(dir + "/tmp"));
  if (fs_->exists(dir + "/objects")) {
    FRESHET_ASSIGN_OR_RETURN(std::vector<std::string> fans, fs_->list_dir(dir + "/objects"));
    for (const std::string& fan : fans) {
      const std::string fan_dir = dir + "/objects/" + fan;
      FRESHET_ASSIGN_OR_RETURN(std::vector<std::string> files, fs_->list_dir(fan_dir));
      for (const std::string& f : files) {
        FRESHET_ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                                 fs_->open(fan_dir + "/" + f, OpenMode::kReadOnly));
        FRESHET_ASSIGN_OR_RETURN(ObjectHeader h, read_object_header(*file));
        std::string key = h.info.key;
        b->objects.emplace(std::move(key), std::move(h.info));
      }
    }
  }
  std::lock_guard lock(mu_);
  buckets_[name] = std::move(b);
  return {};
}

std::string LocalObjectStore::bucket_dir(std::string_view bucket) const {
  return options_.root + "/" + std::string(bucket);
}

std::string LocalObjectStore::object_path(std::string_view bucket, std::string_view key) const {
  std::string d = digest(EVP_sha256(), key);
  std::string h = hex(reinterpret_cast<const unsigned char*>(d.data()), d.size());
  return bucket_dir(bucket) + "/objects/" + h.substr(0, 2) + "/" + h;
}

std::string LocalObjectStore::temp_path(std::string_view bucket) {
  uint64_t n;
  {
    std::lock_guard lock(mu_);
    n = ++temp_counter_;
  }
  return bucket_dir(bucket) + "/tmp/" + std::to_string(n);
}

Result<std::shared_ptr<LocalObjectStore::Bucket>> LocalObjectStore::find_bucket(
    std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(name);
  if (it == buckets_.end()) return not_found("bucket " + std::string(name) + " does not exist");
  return it->second;
}

Status LocalObjectStore::create_bucket(std::string_view bucket) {
  if (!valid_bucket_name(bucket)) {
    return Error(ErrorCode::kInvalidArgument, "The specified bucket is not valid.");
  }
  std::lock_guard lock(mu_);
  if (buckets_.count(bucket) != 0) {
    return Error(ErrorCode::kAlreadyExists, "bucket " + std::string(bucket) + " exists");
  }
  // Built under a temporary name and renamed, so a crash never leaves half a bucket.
  const std::string tmp = options_.root + "/.tmp-" + std::string(bucket);
  FRESHET_RETURN_IF_ERROR(remove_tree(*fs_, tmp));
  FRESHET_RETURN_IF_ERROR(fs_->create_dirs(tmp + "/tmp"));
  FRESHET_RETURN_IF_ERROR(fs_->create_dirs(tmp + "/objects"));
  auto b = std::make_shared<Bucket>();
  b->name = std::string(bucket);
  b->creation_ms = now_ms();
  ObjectInfo meta;
  meta.last_modified_ms = b->creation_ms;
  FRESHET_RETURN_IF_ERROR(write_object_file(*fs_, tmp + "/bucket.meta", meta, {}));
  FRESHET_RETURN_IF_ERROR(fs_->sync_dir(tmp));
  FRESHET_RETURN_IF_ERROR(fs_->rename(tmp, bucket_dir(bucket)));
  FRESHET_RETURN_IF_ERROR(fs_->sync_dir(options_.root));
  buckets_.emplace(std::string(bucket), std::move(b));
  return {};
}

Status LocalObjectStore::delete_bucket(std::string_view bucket) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return not_found("bucket " + std::string(bucket) + " does not exist");
  std::shared_ptr<Bucket> b = it->second;
  {
    std::lock_guard bl(b->mu);
    if (!b->objects.empty()) {
      return Error(ErrorCode::kResourceInUse, "The bucket you tried to delete is not empty");
    }
    b->deleted = true;
  }
  const std::string trash = options_.root + "/.trash-" + std::string(bucket);
  FRESHET_RETURN_IF_ERROR(remove_tree(*fs_, trash));
  FRESHET_RETURN_IF_ERROR(fs_->rename(bucket_dir(bucket), trash));
  FRESHET_RETURN_IF_ERROR(fs_->sync_dir(options_.root));
  buckets_.erase(it);
  return remove_tree(*fs_, trash);
}

Result<BucketInfo> LocalObjectStore::head_bucket(std::string_view bucket) {
  FRESHET_ASSIGN_OR_RETURN(std::shared_ptr<Bucket> b, find_bucket(bucket));
  return BucketInfo{b->name, b->creation_ms};
}

Result<std::vector<BucketInfo>> LocalObjectStore::list_buckets() {
  std::lock_guard lock(mu_);
  std::vector<BucketInfo> out;
  for (const auto& [name, b] : buckets_) out.push_back(BucketInfo{name, b->creation_ms});
  return out;
}

Result<ObjectInfo> LocalObjectStore::put_object(std::string_view bucket, std::string_view key,
                                                std::string_view bytes,
                                                const ObjectAttributes& attrs) {
  if (key.empty() || key.size() > 1024) {
    return Error(ErrorCode::kInvalidArgument, "Your key is too long");
  }
  if (bytes.size() > options_.max_object_bytes) {
    return Error(ErrorCode::kLimitExceeded,
                 "Your proposed upload exceeds the maximum allowed object size.");
  }
  FRESHET_ASSIGN_OR_RETURN(std::shared_ptr<Bucket> b, find_bucket(bucket));
  ObjectInfo info;
  info.key = std::string(key);
  info.size = bytes.size();
  info.etag = quoted_md5(bytes);
  info.last_modified_ms = now_ms();
  info.attributes = attrs;
  const std::string tmp = temp_path(bucket);
  Status st = write_object_file(*fs_, tmp, info, bytes);
  if (!st.ok()) {
    (void)fs_->remove(tmp);
    return st.error();
  }
  const std::string path = object_path(bucket, key);
  const std::string dir = path.substr(0, path.rfind('/'));
  {
    std::lock_guard bl(b->mu);
    if (b->deleted) {
      (void)fs_->remove(tmp);
      return not_found("bucket " + std::string(bucket) + " does not exist");
    }
    if (!fs_->exists(dir)) {
      FRESHET_RETURN_IF_ERROR(fs_->create_dirs(dir));
      FRESHET_RETURN_IF_ERROR(fs_->sync_dir(bucket_dir(bucket) + "/objects"));
    }
    FRESHET_RETURN_IF_ERROR(fs_->rename(tmp, path));
    b->objects[info.key] = info;
  }
  FRESHET_RETURN_IF_ERROR(fs_->sync_dir(dir));
  return info;
}

Result<ObjectInfo> LocalObjectStore::head_object(std::string_view bucket, std::string_view key) {
  FRESHET_ASSIGN_OR_RETURN(std::shared_ptr<Bucket> b, find_bucket(bucket));
  std::lock_guard bl(b->mu);
  auto it = b->objects.find(key);
  if (it == b->objects.end()) return not_found("key does not exist");
  return it->second;
}

Result<ObjectData> LocalObjectStore::get_object(std::string_view bucket, std::string_view key,
                                                std::optional<ByteRange> range) {
  FRESHET_ASSIGN_OR_RETURN(std::shared_ptr<Bucket> b, find_bucket(bucket));
  {
    std::lock_guard bl(b->mu);
    if (b->objects.find(key) == b->objects.end()) return not_found("key does not exist");
  }
  // The file may have been replaced or removed since: read what is there now.
  Result<std::unique_ptr<File>> f = fs_->open(object_path(bucket, key), OpenMode::kReadOnly);
  if (!f.ok()) {
    if (f.code() == ErrorCode::kNotFound) return not_found("key does not exist");
    return f.error();
  }
  FRESHET_ASSIGN_OR_RETURN(ObjectHeader h, read_object_header(**f));
  if (h.info.key != key) return Error(ErrorCode::kCorruption, "object file holds another key");
  ObjectData out;
  uint64_t first = 0, n = h.info.size;
  if (range) {
    if (range->first > range->last || range->last >= h.info.size) {
      return Error(ErrorCode::kOutOfRange, "The requested range is not satisfiable");
    }
    first = range->first;
    n = range->last - range->first + 1;
  }
  if (n >= kMapThreshold) {
    // Served from a map of the file: no copy. A replaced object is a new file (rename), so
    // the mapped one never changes under the reader. The header is read again from the map,
    // which may be a newer file than the one opened above.
    Result<std::unique_ptr<MappedFile>> m = fs_->map_readonly(object_path(bucket, key));
    if (m.ok()) {
      std::shared_ptr<const MappedFile> map = std::move(*m);
      MappedAsFile view(*map);
      FRESHET_ASSIGN_OR_RETURN(ObjectHeader mh, read_object_header(view));
      if (mh.info.key != key) return Error(ErrorCode::kCorruption, "object file holds another key");
      if (range && range->last >= mh.info.size) {
        return Error(ErrorCode::kOutOfRange, "The requested range is not satisfiable");
      }
      if (!range) n = mh.info.size;
      out.view = std::string_view(reinterpret_cast<const char*>(map->data()) + mh.data_offset + first, n);
      out.storage = map;
      out.info = std::move(mh.info);
      return out;
    }
  }
  out.bytes.resize(n);
  FRESHET_ASSIGN_OR_RETURN(size_t got, (*f)->read_at(out.bytes.data(), n, h.data_offset + first));
  if (got != n) return Error(ErrorCode::kCorruption, "object file shorter than its header says");
  out.info = std::move(h.info);
  return out;
}

Status LocalObjectStore::delete_object(std::string_view bucket, std::string_view key) {
  FRESHET_ASSIGN_OR_RETURN(std::shared_ptr<Bucket> b, find_bucket(bucket));
  const std::string path = object_path(bucket, key);
  {
    std::lock_guard bl(b->mu);
    auto it = b->objects.find(key);
    if (it == b->objects.end()) return {};
    Status st = fs_->remove(path);
    if (!st.ok() && st.code() != ErrorCode::kNotFound) return st;
    b->objects.erase(it);
  }
  return fs_->sync_dir(path.substr(0, path.rfind('/')));
}

Result<ListResult> LocalObjectStore::list_objects(std::string_view bucket,
                                                  const ListOptions& opts) {
  FRESHET_ASSIGN_OR_RETURN(std::shared_ptr<Bucket> b, find_bucket(bucket));
  ListResult out;
  if (opts.max_keys == 0) return out;
  std::lock_guard bl(b->mu);
  const std::string& prefix = opts.prefix;
  auto it = b->objects.lower_bound(std::max(prefix, opts.start_after));
  size_t count = 0;
  while (it != b->objects.end()) {
    const std::string& key = it->first;
    if (key.compare(0, prefix.size(), prefix) != 0) break;
    if (key <= opts.start_after) {
      ++it;
      continue;
    }
    if (!opts.delimiter.empty()) {
      size_t pos = key.find(opts.delimiter, prefix.size());
      if (pos != std::string::npos) {
        std::string cp = key.substr(0, pos + opts.delimiter.size());
        std::string next = prefix_successor(cp);
        if (cp > opts.start_after) {
          if (count == opts.max_keys) {
            out.truncated = true;
            break;
          }
          out.common_prefixes.push_back(cp);
          out.next_start_after = cp;
          ++count;
        }
        it = next.empty() ? b->objects.end() : b->objects.lower_bound(next);
        continue;
      }
    }
    if (count == opts.max_keys) {
      out.truncated = true;
      break;
    }
    out.objects.push_back(it->second);
    out.next_start_after = key;
    ++count;
    ++it;
  }
  if (!out.truncated) out.next_start_after.clear();
  return out;
}

// ---------------------------------------------------------------- multipart uploads

Result<std::string> LocalObjectStore::upload_dir(std::string_view bucket,
                                                 std::string_view upload_id) const {
  if (!valid_upload_id(upload_id)) return not_found("upload does not exist");
  std::string dir = bucket_dir(bucket) + "/uploads/" + std::string(upload_id);
  if (!fs_->exists(dir + "/upload.meta")) return not_found("upload does not exist");
  return dir;
}

Result<UploadInfo> LocalObjectStore::create_upload(std::string_view bucket, std::string_view key,
                                                   const ObjectAttributes& attrs) {
  if (key.empty() || key.size() > 1024) {
    return Error(ErrorCode::kInvalidArgument, "Your key is too long");
  }
  FRESHET_ASSIGN_OR_RETURN(std::shared_ptr<Bucket> b, find_bucket(bucket));
  std::random_device rd;
  std::string raw(16, '\0');
  for (auto& c : raw) c = static_cast<char>(rd());
  UploadInfo up;
  up.upload_id = hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  up.key = std::string(key);
  up.initiated_ms = now_ms();
  const std::string uploads = bucket_dir(bucket) + "/uploads";
  const std::string dir = uploads + "/" + up.upload_id;
  FRESHET_RETURN_IF_ERROR(create_dirs_durably(*fs_, dir));
  ObjectInfo meta;
  meta.key = up.key;
  meta.last_modified_ms = up.initiated_ms;
  meta.attributes = attrs;
  FRESHET_RETURN_IF_ERROR(write_object_file(*fs_, dir + "/upload.meta.tmp", meta, {}));
  FRESHET_RETURN_IF_ERROR(fs_->rename(dir + "/upload.meta.tmp", dir + "/upload.meta"));
  FRESHET_RETURN_IF_ERROR(fs_->sync_dir(dir));
  FRESHET_RETURN_IF_ERROR(fs_->sync_dir(uploads));
  return up;
}

Result<PartInfo> LocalObjectStore::upload_part(std::string_view bucket, std::string_view upload_id,
                                               int part_number, std::string_view bytes) {
  FRESHET_ASSIGN_OR_RETURN(std::shared_ptr<Bucket> b, find_bucket(bucket));
  FRESHET_ASSIGN_OR_RETURN(std::string dir, upload_dir(bucket, upload_id));
  if (part_number < 1 || part_number > 10000) {
    return Error(ErrorCode::kInvalidArgument,
                 "Part number must be an integer between 1 and 10000, inclusive");
  }
  ObjectInfo part;
  part.size = bytes.size();
  part.etag = quoted_md5(bytes);
  part.last_modified_ms = now_ms();
  const std::string tmp = temp_path(bucket);
  FRESHET_RETURN_IF_ERROR(write_object_file(*fs_, tmp, part, bytes));
  FRESHET_RETURN_IF_ERROR(fs_->rename(tmp, dir + "/" + std::to_string(part_number)));
  FRESHET_RETURN_IF_ERROR(fs_->sync_dir(dir));
  return PartInfo{part_number, part.size, part.etag, part.last_modified_ms};
}

Result<std::vector<PartInfo>> LocalObjectStore::list_parts(std::string_view bucket,
                                                           std::string_view upload_id) {
  FRESHET_ASSIGN_OR_RETURN(std::shared_ptr<Bucket> b, find_bucket(bucket));
  FRESHET_ASSIGN_OR_RETURN(std::string dir, upload_dir(bucket, upload_id));
  FRESHET_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->list_dir(dir));
  std::vector<PartInfo> out;
  for (const std::string& n : names) {
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos || n.size() > 5) {
      continue;
    }
    FRESHET_ASSIGN_OR_RETURN(std::unique_ptr<File> f, fs_->open(dir + "/" + n, OpenMode::kReadOnly));
    FRESHET_ASSIGN_OR_RETURN(ObjectHeader h, read_object_header(*f));
    out.push_back(PartInfo{std::stoi(n), h.info.size, h.info.etag, h.info.last_modified_ms});
  }
  std::sort(out.begin(), out.end(),
            [](const PartInfo& a, const PartInfo& b) { return a.part_number < b.part_number; });
  return out;
}

Result<std::vector<UploadInfo>> LocalObjectStore::list_uploads(std::string_view bucket) {
  FRESHET_ASSIGN_OR_RETURN(std::shared_ptr<Bucket> b, find_bucket(bucket));
  const std::string uploads = bucket_dir(bucket) + "/uploads";
  std::vector<UploadInfo> out;
  if (!fs_->exists(uploads)) return out;
  FRESHET_ASSIGN_OR_RETURN(std::vector<std::string> ids, fs_->list_dir(uploads));
  for (const std::string& id : ids) {
    Result<std::unique_ptr<File>> f = fs_->open(uploads + "/" + id + "/upload.meta",
                                                OpenMode::kReadOnly);
    if (!f.ok()) continue;  // being created or aborted
    FRESHET_ASSIGN_OR_RETURN(ObjectHeader h, read_object_header(**f));
    out.push_back(UploadInfo{id, h.info.key, h.info.last_modified_ms});
  }
  std::sort(out.begin(), out.end(), [](const UploadInfo& a, const UploadInfo& b) {
    return std::tie(a.key, a.initiated_ms) < std::tie(b.key, b.initiated_ms);
  });
  return out;
}

Status LocalObjectStore::abort_upload(std::string_view bucket, std::string_view upload_id) {
  FRESHET_ASSIGN_OR_RETURN(std::shared_ptr<Bucket> b, find_bucket(bucket));
  FRESHET_ASSIGN_OR_RETURN(std::string dir, upload_dir(bucket, upload_id));
  FRESHET_RETURN_IF_ERROR(fs_->remove(dir + "/upload.meta"));
  FRESHET_RETURN_IF_ERROR(fs_->sync_dir(dir));
  return remove_tree(*fs_, dir);
}

Result<ObjectInfo> LocalObjectStore::complete_upload(
    std::string_view bucket, std::string_view key, std::string_view upload_id,
    const std::vector<std::pair<int, std::string>>& parts) {
  FRESHET_ASSIGN_OR_RETURN(std::shared_ptr<Bucket> b, find_bucket(bucket));
  FRESHET_ASSIGN_OR_RETURN(std::string dir, upload_dir(bucket, upload_id));
  if (parts.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "You must specify at least one part");
  }
  FRESHET_ASSIGN_OR_RETURN(std::unique_ptr<File> mf,
                           fs_->open(dir + "/upload.meta", OpenMode::kReadOnly));
  FRESHET_ASSIGN_OR_RETURN(ObjectHeader meta, read_object_header(*mf));
  if (meta.info.key != key) return not_found("upload does not exist");
  // Open and check every part first.
  struct Part {
    std::unique_ptr<File> file;
    ObjectHeader header;
  };
  std::vector<Part> open_parts;
  std::string md5s;
  uint64_t total = 0;
  int prev = 0;
  for (const auto& p : parts) {
    if (p.first <= prev) {
      return Error(ErrorCode::kOutOfRange,
                   "The list of parts was not in ascending order. Parts must be ordered by part "
                   "number.");
    }
    prev = p.first;
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& [number, etag] = parts[i];
    Result<std::unique_ptr<File>> f =
        fs_->open(dir + "/" + std::to_string(number), OpenMode::kReadOnly);
    if (!f.ok()) {
      return Error(ErrorCode::kInvalidArgument,
                   "One or more of the specified parts could not be found.  The part may not "
                   "have been uploaded, or the specified entity tag may not match the part's "
                   "entity tag.");
    }
    FRESHET_ASSIGN_OR_RETURN(ObjectHeader h, read_object_header(**f));
    if (unquote(h.info.etag) != unquote(etag)) {
      return Error(ErrorCode::kInvalidArgument,
                   "One or more of the specified parts could not be found.  The part may not "
                   "have been uploaded, or the specified entity tag may not match the part's "
                   "entity tag.");
    }
    if (i + 1 < parts.size() && h.info.size < 5 * 1024 * 1024) {
      return Error(ErrorCode::kLimitExceeded,
                   "Your proposed upload is smaller than the minimum allowed size");
    }
    std::string raw = unquote(h.info.etag);
    for (size_t k = 0; k + 1 < raw.size(); k += 2) {
      md5s.push_back(static_cast<char>(std::stoi(raw.substr(k, 2), nullptr, 16)));
    }
    total += h.info.size;
    open_parts.push_back(Part{std::move(*f), std::move(h)});
  }
  ObjectInfo info;
  info.key = std::string(key);
  info.size = total;
  std::string d = digest(EVP_md5(), md5s);
  info.etag = "\"" + hex(reinterpret_cast<const unsigned char*>(d.data()), d.size()) + "-" +
              std::to_string(parts.size()) + "\"";
  info.last_modified_ms = now_ms();
  info.attributes = meta.info.attributes;
  // Concatenate into one object file, 8 MiB at a time.
  const std::string tmp = temp_path(bucket);
  {
    FRESHET_ASSIGN_OR_RETURN(std::unique_ptr<File> out, fs_->open(tmp, OpenMode::kCreate));
    FRESHET_RETURN_IF_ERROR(out->truncate(0));
    std::string header = encode_object_header(info);
    FRESHET_RETURN_IF_ERROR(out->write_at(header.data(), header.size(), 0));
    uint64_t pos = header.size();
    std::string buf(8 << 20, '\0');
    for (Part& p : open_parts) {
      uint64_t left = p.header.info.size, off = p.header.data_offset;
      while (left > 0) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
        FRESHET_ASSIGN_OR_RETURN(size_t got, p.file->read_at(buf.data(), n, off));
        if (got != n) return Error(ErrorCode::kCorruption, "part file shorter than its header");
        FRESHET_RETURN_IF_ERROR(out->write_at(buf.data(), n, pos));
        pos += n, off += n, left -= n;
      }
    }
    FRESHET_RETURN_IF_ERROR(out->sync());
  }
  const std::string path = object_path(bucket, key);
  const std::string odir = path.substr(0, path.rfind('/'));
  {
    std::lock_guard bl(b->mu);
    if (!fs_->exists(odir)) {
      FRESHET_RETURN_IF_ERROR(fs_->create_dirs(odir));
      FRESHET_RETURN_IF_ERROR(fs_->sync_dir(bucket_dir(bucket) + "/objects"));
    }
    FRESHET_RETURN_IF_ERROR(fs_->rename(tmp, path));
    b->objects[info.key] = info;
  }
  FRESHET_RETURN_IF_ERROR(fs_->sync_dir(odir));
  FRESHET_RETURN_IF_ERROR(fs_->remove(dir + "/upload.meta"));
  (void)remove_tree(*fs_, dir);
  return info;
}

}  // namespace freshet::objstore
