// Deterministic randomness for the generators: xoshiro256** seeded by splitmix64 (the same
// numbers on every platform, unlike std:: distributions), and a Zipf sampler.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace freshet::produce {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& s : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n); n > 0. (Lemire's multiply-shift; the tiny bias is irrelevant here.)
  uint64_t uniform(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Ranks 0..n-1 with P(rank k) proportional to 1 / (k+1)^s: a cumulative table searched by
// binary search (n up to a few million is fine).
class Zipf {
 public:
  Zipf(uint32_t n, double s) : cdf_(n) {
    double acc = 0;
    for (uint32_t k = 0; k < n; ++k) {
      acc += 1.0 / std::pow(k + 1.0, s);
      cdf_[k] = acc;
    }
    for (double& c : cdf_) c /= acc;
  }
  uint32_t sample(Rng& rng) const {
    const double u = rng.unit();
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    return static_cast<uint32_t>(std::min<size_t>(static_cast<size_t>(it - cdf_.begin()),
                                                  cdf_.size() - 1));
  }

 private:
  std::vector<double> cdf_;
};

}  // namespace freshet::produce
