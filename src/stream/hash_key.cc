#include "freshet/stream/hash_key.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace freshet::stream {

Result<HashKey> parse_hash_key(std::string_view text) {
  if (text.empty() || text.size() > kMaxHashKeyDigits) {
    return Error(ErrorCode::kInvalidArgument, "hash key must have 1 to 39 decimal digits");
  }
  if (text.size() > 1 && text[0] == '0') {
    return Error(ErrorCode::kInvalidArgument, "hash key must not have leading zeros");
  }
  const uint128 max = HashKey::max().value;
  uint128 v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return Error(ErrorCode::kInvalidArgument, "hash key must contain only decimal digits");
    }
    const auto digit = static_cast<unsigned>(c - '0');
    if (v > (max - digit) / 10) {
      return Error(ErrorCode::kInvalidArgument, "hash key exceeds 2^128 - 1");
    }
    v = v * 10 + digit;
  }
  return HashKey{v};
}

std::string format_hash_key(HashKey key) {
  std::array<char, kMaxHashKeyDigits> buf;
  size_t pos = buf.size();
  uint128 v = key.value;
  do {
    buf[--pos] = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  } while (v != 0);
  return std::string(buf.data() + pos, buf.size() - pos);
}

Result<HashKey> partition_key_hash(std::string_view partition_key) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest;
  unsigned int digest_len = 0;
  if (EVP_Digest(partition_key.data(), partition_key.size(), digest.data(), &digest_len, EVP_md5(),
                 nullptr) != 1 ||
      digest_len != 16) {
    return Error(ErrorCode::kFailed, "MD5 is unavailable in the crypto library");
  }
  uint128 v = 0;
  for (unsigned int i = 0; i < 16; ++i) {
    v = (v << 8) | digest[i];
  }
  return HashKey{v};
}

struct PartitionKeyHasher::State {
  EVP_MD* md = nullptr;          // fetched once; null if MD5 is unavailable
  EVP_MD_CTX* ctx = nullptr;     // reused for every key
};

PartitionKeyHasher::PartitionKeyHasher() : state_(std::make_unique<State>()) {
  state_->md = EVP_MD_fetch(nullptr, "MD5", nullptr);
  state_->ctx = EVP_MD_CTX_new();
}

PartitionKeyHasher::~PartitionKeyHasher() {
  EVP_MD_CTX_free(state_->ctx);
  EVP_MD_free(state_->md);
}

Result<HashKey> PartitionKeyHasher::hash(std::string_view partition_key) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest;
  unsigned int digest_len = 0;
  if (state_->md == nullptr || state_->ctx == nullptr ||
      EVP_DigestInit_ex2(state_->ctx, state_->md, nullptr) != 1 ||
      EVP_DigestUpdate(state_->ctx, partition_key.data(), partition_key.size()) != 1 ||
      EVP_DigestFinal_ex(state_->ctx, digest.data(), &digest_len) != 1 || digest_len != 16) {
    return Error(ErrorCode::kFailed, "MD5 is unavailable in the crypto library");
  }
  uint128 v = 0;
  for (unsigned int i = 0; i < 16; ++i) v = (v << 8) | digest[i];
  return HashKey{v};
}

Result<std::vector<HashKeyRange>> uniform_hash_key_ranges(uint32_t shard_count) {
  if (shard_count == 0 || shard_count > kMaxUniformShards) {
    return Error(ErrorCode::kInvalidArgument,
                 "shard count must be between 1 and " + std::to_string(kMaxUniformShards));
  }
  std::vector<HashKeyRange> ranges;
  ranges.reserve(shard_count);
  if (shard_count == 1) {
    ranges.push_back(full_hash_key_range());
    return ranges;
  }
  // q = floor(2^128 / n), computed without 2^128: with m = 2^128 - 1, 2^128 = m + 1, so the
  // quotient grows by one exactly when m % n == n - 1.
  const uint128 m = HashKey::max().value;
  const uint128 n = shard_count;
  const uint128 q = m / n + (m % n == n - 1 ? 1 : 0);
  for (uint32_t i = 0; i < shard_count; ++i) {
    const uint128 start = q * i;
    const uint128 end = (i + 1 == shard_count) ? m : q * (i + 1) - 1;
    ranges.push_back({HashKey{start}, HashKey{end}});
  }
  return ranges;
}

bool ranges_cover_hash_key_space(std::span<const HashKeyRange> ranges) {
  if (ranges.empty() || ranges.front().start != HashKey::min() ||
      ranges.back().end != HashKey::max()) {
    return false;
  }
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].start > ranges[i].end) {
      return false;
    }
    if (i > 0 && (ranges[i - 1].end == HashKey::max() ||
                  ranges[i].start.value != ranges[i - 1].end.value + 1)) {
      return false;
    }
  }
  return true;
}

std::optional<size_t> route_hash_key(std::span<const HashKeyRange> ranges, HashKey key) {
  // First range whose end is >= key; it holds the key iff its start is <= key.
  const auto it = std::lower_bound(ranges.begin(), ranges.end(), key,
                                   [](const HashKeyRange& r, HashKey k) { return r.end < k; });
  if (it == ranges.end() || !it->contains(key)) {
    return std::nullopt;
  }
  return static_cast<size_t>(it - ranges.begin());
}

}  // namespace freshet::stream
