// The load engine of `freshet bench put`: PutRecord (--batch 1) or PutRecords requests over
// --concurrency keep-alive connections, driven asynchronously by a few client threads.
//
// The client shares a small machine with the server it measures, so it is built to spend as
// little CPU per request as it can:
//  - Bodies are built before the clock starts: each connection pre-builds a pool of up to
//    kMaxBodiesPerConnection distinct bodies (its own random partition keys and random data)
//    and hashes each once for SigV4; requests cycle through the pool. Only the final, smaller
//    batch of a --records run is built when needed.
//  - Every request is still signed (the x-amz-date changes each second), with
//    SigV4FixedSigner: one SHA-256 of the canonical request plus one HMAC.
//  - Each client thread runs one io_context driving its share of the connections, instead of
//    a blocking thread per connection. A request is its header text, built in a reused
//    string, and the pooled body, sent with one scatter write; the response is read when the
//    socket is readable and parsed with beast's parser.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench_client.h"
#include "bench_stats.h"
#include "freshet/common/result.h"

namespace freshet::cli::bench {

inline constexpr int kMaxBodiesPerConnection = 16;

struct PutLoadOptions {
  std::string stream;
  int batch = 100;            // records per request: 1 = PutRecord, >1 = PutRecords
  int record_size = 100;      // bytes of data per record
  int64_t distinct_keys = 0;  // draw partition keys from this many; 0 = random keys
  int concurrency = 4;        // connections, each with one request in flight
  int threads = 1;            // client threads; the connections are spread over them
  int64_t records = -1;       // records to send in all; -1 = until run()'s deadline
};

class PutWorker;

class PutLoad {
 public:
  // Resolves the endpoint and builds every connection's bodies; sends nothing yet.
  static Result<std::unique_ptr<PutLoad>> create(const PutLoadOptions& options,
                                                 const ClientOptions& client, Stats* stats);
  ~PutLoad();
  PutLoad(const PutLoad&) = delete;
  PutLoad& operator=(const PutLoad&) = delete;

  int threads() const { return static_cast<int>(workers_.size()); }
  int bodies_per_connection() const { return shared_.bodies_per_connection; }

  // Sends until `deadline` (a --duration run) or until options.records are sent, counting
  // into the Stats given to create(). Blocks; the client threads run inside. Call once.
  void run(std::chrono::steady_clock::time_point deadline);

  // What the client threads share. Written before they start; then only `remaining` and
  // *stats change, and both are thread-safe.
  struct Shared {
    PutLoadOptions options;
    ClientOptions client;
    Stats* stats = nullptr;
    int bodies_per_connection = 1;
    std::atomic<int64_t> remaining{0};  // records not yet claimed by a --records run
    std::chrono::steady_clock::time_point deadline;
  };

 private:
  PutLoad() = default;

  Shared shared_;
  std::vector<std::unique_ptr<PutWorker>> workers_;  // one per client thread
};

}  // namespace freshet::cli::bench
