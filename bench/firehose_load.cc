// Firehose and S3 load against a running `freshet serve`, over keep-alive HTTP/1.1.
//
//   firehose_load --endpoint http://127.0.0.1:4567 --mode put --records 3000000
//                 --record-size 100 --batch 500 --concurrency 8 --compression GZIP
//       PutRecordBatch from C connections into a delivery stream (buffer 128 MiB / 1 s by
//       default), then waits until DeliveryToS3.Records (from /metrics) covers every record.
//       Prints put records/s, delivered records/s end to end, and the largest
//       DeliveryToS3.DataFreshness seen (sampled every 100 ms).
//   firehose_load --mode kinesis --records 3000000 --shards 4 --concurrency 8
//       Fills a Kinesis stream (`<stream>-source`, --shards) with --records records by
//       PutRecords (--batch per call), then creates a KinesisStreamAsSource delivery stream
//       reading it from TRIM_HORIZON and waits until DeliveryToS3.Records covers every record.
//       Prints the fill rate and the delivered records/s (from CreateDeliveryStream to the last
//       record in an object).
//   firehose_load --mode get --object-mb 64 --repeat 20
//       PutObject of one object, then GetObject of it `repeat` times: GB/s.
//   firehose_load --mode list --objects 100000 --concurrency 8
//       PutObject of `objects` small objects (skipped if there), then ListObjectsV2 over all
//       of them, page by page (1,000 keys): pages/s.
#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <algorithm>
#include <cstring>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "freshet/common/base64.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string host = "127.0.0.1";
  std::string port = "4567";
  std::string mode = "put";
  std::string stream = "load";
  std::string bucket = "load";
  std::string compression = "GZIP";
  long records = 1'000'000;
  int record_size = 100;
  int batch = 500;
  int concurrency = 8;
  int size_mb = 128;
  int interval_s = 1;
  int object_mb = 64;
  int repeat = 10;
  long objects = 100'000;
  int shards = 4;
};

class Connection {
 public:
  explicit Connection(const Args& a) : args_(a), stream_(ioc_) {
    tcp::resolver r(ioc_);
    stream_.connect(r.resolve(a.host, a.port));
    stream_.socket().set_option(tcp::no_delay(true));
  }
  int request(http::verb verb, const std::string& target, const std::string& amz_target,
              const std::string& body, std::string* out) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, args_.host);
    if (!amz_target.empty()) {
      req.set(http::field::content_type, "application/x-amz-json-1.1");
      req.set("X-Amz-Target", amz_target);
    }
    const std::string service = amz_target.rfind("Kinesis_", 0) == 0 ? "kinesis" : "firehose";
    req.set(http::field::authorization,
            "AWS4-HMAC-SHA256 Credential=load/20250101/us-east-1/" + service +
                "/aws4_request, SignedHeaders=host, Signature=0");
    req.set("X-Amz-Date", "20250101T000000Z");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    http::write(stream_, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 31);
    http::read(stream_, buf_, parser);
    if (out != nullptr) *out = std::move(parser.get().body());
    return parser.get().result_int();
  }

 private:
  const Args& args_;
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
};

// Sum of a metric's samples in Prometheus text (all label sets), or their max.
double scrape(Connection& c, const std::string& name, bool max) {
  std::string text;
  if (c.request(http::verb::get, "/metrics", "", "", &text) != 200) return -1;
  double v = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    if (line[name.size()] != '{' && line[name.size()] != ' ') continue;
    double x = std::atof(std::string(line.substr(line.rfind(' ') + 1)).c_str());
    v = max ? std::max(v, x) : v + x;
  }
  return v;
}

int run_put(const Args& a) {
  {
    Connection c(a);
    std::string out;
    c.request(http::verb::put, "/" + a.bucket, "", "", &out);
    std::string cfg = "{\"DeliveryStreamName\":\"" + a.stream +
                      "\",\"ExtendedS3DestinationConfiguration\":{\"RoleARN\":\"arn:aws:iam::"
                      "000000000000:role/r\",\"BucketARN\":\"arn:aws:s3:::" + a.bucket +
                      "\",\"CompressionFormat\":\"" + a.compression +
                      "\",\"BufferingHints\":{\"SizeInMBs\":" + std::to_string(a.size_mb) +
                      ",\"IntervalInSeconds\":" + std::to_string(a.interval_s) + "}}}";
    int st = c.request(http::verb::post, "/", "Firehose_20150804.CreateDeliveryStream", cfg, &out);
    if (st != 200 && out.find("ResourceInUse") == std::string::npos) {
      std::fprintf(stderr, "CreateDeliveryStream: %d %s\n", st, out.c_str());
      return 1;
    }
  }
  Connection metrics(a);
  const double delivered_before =
      scrape(metrics, "freshet_firehose_DeliveryToS3_Records_total", false);
  std::atomic<long> done{0}, errors{0};
  const long requests = (a.records + a.batch - 1) / a.batch;
  std::atomic<long> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < a.concurrency; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::string body = "{\"DeliveryStreamName\":\"" + a.stream + "\",\"Records\":[";
      for (int i = 0; i < a.batch; ++i) {
        std::string data(static_cast<size_t>(a.record_size) - 1, 'x');
        for (auto& ch : data) ch = static_cast<char>('a' + rng() % 26);
        data.push_back('\n');
        if (i) body += ",";
        body += "{\"Data\":\"" + freshet::base64_encode(data) + "\"}";
      }
      body += "]}";
      try {
        Connection c(a);
        std::string out;
        while (next.fetch_add(1) < requests) {
          int st = c.request(http::verb::post, "/", "Firehose_20150804.PutRecordBatch", body, &out);
          if (st != 200 || out.find("\"FailedPutCount\":0") == std::string::npos) {
            if (errors.fetch_add(1) < 3) std::fprintf(stderr, "error %d: %.300s\n", st, out.c_str());
          } else {
            done.fetch_add(a.batch);
          }
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "connection %d: %s\n", t, e.what());
        errors.fetch_add(1);
      }
    });
  }
  std::atomic<bool> putting{true};
  double max_freshness = 0;
  std::thread sampler([&] {
    Connection m(a);
    while (putting.load()) {
      max_freshness = std::max(max_freshness,
                               scrape(m, "freshet_firehose_DeliveryToS3_DataFreshness_seconds", true));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  for (auto& th : threads) th.join();
  const double put_secs = std::chrono::duration<double>(Clock::now() - start).count();
  // Delivered: wait until the delivery counter covers every record put.
  double delivered = 0;
  const auto give_up = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < give_up) {
    delivered = scrape(metrics, "freshet_firehose_DeliveryToS3_Records_total", false) - delivered_before;
    if (delivered >= static_cast<double>(done.load())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double all_secs = std::chrono::duration<double>(Clock::now() - start).count();
  putting = false;
  sampler.join();
  std::printf("mode=put compression=%s records=%ld record_size=%d batch=%d concurrency=%d "
              "put_seconds=%.2f put_records_per_s=%.0f delivered=%.0f end_to_end_seconds=%.2f "
              "delivered_records_per_s=%.0f max_data_freshness_s=%.2f errors=%ld\n",
              a.compression.c_str(), done.load(), a.record_size, a.batch, a.concurrency, put_secs,
              done.load() / put_secs, delivered, all_secs, delivered / all_secs, max_freshness,
              errors.load());
  return errors.load() == 0 && delivered >= done.load() ? 0 : 1;
}

// The value of a JSON string member in a small answer ("" if absent).
std::string json_member(const std::string& body, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  const size_t at = body.find(key);
  if (at == std::string::npos) return "";
  const size_t end = body.find('"', at + key.size());
  return end == std::string::npos ? "" : body.substr(at + key.size(), end - at - key.size());
}

int run_kinesis(const Args& a) {
  const std::string source = a.stream + "-source";
  Connection c(a);
  std::string out;
  int st = c.request(http::verb::post, "/", "Kinesis_20131202.CreateStream",
                     "{\"StreamName\":\"" + source + "\",\"ShardCount\":" +
                         std::to_string(a.shards) + "}",
                     &out);
  if (st != 200 && out.find("ResourceInUse") == std::string::npos) {
    std::fprintf(stderr, "CreateStream: %d %s\n", st, out.c_str());
    return 1;
  }
  std::string arn;
  for (int i = 0; i < 100; ++i) {  // ACTIVE within 10 s
    c.request(http::verb::post, "/", "Kinesis_20131202.DescribeStreamSummary",
              "{\"StreamName\":\"" + source + "\"}", &out);
    if (json_member(out, "StreamStatus") == "ACTIVE") {
      arn = json_member(out, "StreamARN");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (arn.empty()) {
    std::fprintf(stderr, "stream %s did not become ACTIVE: %s\n", source.c_str(), out.c_str());
    return 1;
  }
  // 1. Fill the stream.
  std::atomic<long> filled{0}, errors{0}, next{0};
  const long requests = (a.records + a.batch - 1) / a.batch;
  const auto fill_start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < a.concurrency; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      try {
        Connection k(a);
        std::string answer;
        while (true) {
          const long r = next.fetch_add(1);
          if (r >= requests) break;
          std::string body = "{\"StreamName\":\"" + source + "\",\"Records\":[";
          for (int i = 0; i < a.batch; ++i) {
            std::string data(static_cast<size_t>(a.record_size) - 1, 'x');
            for (auto& ch : data) ch = static_cast<char>('a' + rng() % 26);
            data.push_back('\n');
            if (i) body += ",";
            body += "{\"Data\":\"" + freshet::base64_encode(data) + "\",\"PartitionKey\":\"p" +
                    std::to_string(r * a.batch + i) + "\"}";
          }
          body += "]}";
          int code = k.request(http::verb::post, "/", "Kinesis_20131202.PutRecords", body, &answer);
          if (code != 200 || answer.find("\"FailedRecordCount\":0") == std::string::npos) {
            if (errors.fetch_add(1) < 3) {
              std::fprintf(stderr, "PutRecords %d: %.300s\n", code, answer.c_str());
            }
          } else {
            filled.fetch_add(a.batch);
          }
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "connection %d: %s\n", t, e.what());
        errors.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  const double fill_secs = std::chrono::duration<double>(Clock::now() - fill_start).count();
  if (errors.load() != 0) return 1;
  // 2. Deliver it.
  Connection metrics(a);
  const double delivered_before =
      scrape(metrics, "freshet_firehose_DeliveryToS3_Records_total", false);
  st = c.request(http::verb::put, "/" + a.bucket, "", "", &out);
  if (st != 200 && out.find("BucketAlreadyOwnedByYou") == std::string::npos) {
    std::fprintf(stderr, "CreateBucket %s: %d %s\n", a.bucket.c_str(), st, out.c_str());
    return 1;
  }
  const std::string cfg =
      "{\"DeliveryStreamName\":\"" + a.stream +
      "\",\"DeliveryStreamType\":\"KinesisStreamAsSource\",\"KinesisStreamSourceConfiguration\":"
      "{\"KinesisStreamARN\":\"" + arn + "\",\"RoleARN\":\"arn:aws:iam::000000000000:role/r\"},"
      "\"ExtendedS3DestinationConfiguration\":{\"RoleARN\":\"arn:aws:iam::000000000000:role/r\","
      "\"BucketARN\":\"arn:aws:s3:::" + a.bucket + "\",\"CompressionFormat\":\"" + a.compression +
      "\",\"BufferingHints\":{\"SizeInMBs\":" + std::to_string(a.size_mb) +
      ",\"IntervalInSeconds\":" + std::to_string(a.interval_s) + "}}}";
  const auto start = Clock::now();
  st = c.request(http::verb::post, "/", "Firehose_20150804.CreateDeliveryStream", cfg, &out);
  if (st != 200) {
    std::fprintf(stderr, "CreateDeliveryStream: %d %s\n", st, out.c_str());
    return 1;
  }
  double delivered = 0;
  long last_report = 0;
  const auto give_up = Clock::now() + std::chrono::seconds(300);
  while (Clock::now() < give_up) {
    delivered = scrape(metrics, "freshet_firehose_DeliveryToS3_Records_total", false) -
                delivered_before;
    if (delivered >= static_cast<double>(filled.load())) break;
    const long secs = static_cast<long>(std::chrono::duration<double>(Clock::now() - start).count());
    if (secs >= last_report + 5) {  // progress for long runs
      last_report = secs;
      std::fprintf(stderr, "  %lds: delivered %.0f of %ld\n", secs, delivered, filled.load());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("mode=kinesis compression=%s records=%ld record_size=%d shards=%d "
              "fill_seconds=%.2f fill_records_per_s=%.0f delivered=%.0f delivery_seconds=%.2f "
              "delivered_records_per_s=%.0f\n",
              a.compression.c_str(), filled.load(), a.record_size, a.shards, fill_secs,
              filled.load() / fill_secs, delivered, secs, delivered / secs);
  return delivered >= filled.load() ? 0 : 1;
}

int run_get(const Args& a) {
  Connection c(a);
  std::string out;
  c.request(http::verb::put, "/" + a.bucket, "", "", &out);
  std::string data(static_cast<size_t>(a.object_mb) << 20, '\0');
  std::mt19937_64 rng(1);
  for (size_t i = 0; i + 8 <= data.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&data[i], &v, 8);
  }
  if (c.request(http::verb::put, "/" + a.bucket + "/big.bin", "", data, &out) != 200) {
    std::fprintf(stderr, "PutObject failed: %s\n", out.c_str());
    return 1;
  }
  const auto start = Clock::now();
  size_t bytes = 0;
  for (int i = 0; i < a.repeat; ++i) {
    if (c.request(http::verb::get, "/" + a.bucket + "/big.bin", "", "", &out) != 200 ||
        out.size() != data.size()) {
      std::fprintf(stderr, "GetObject failed\n");
      return 1;
    }
    bytes += out.size();
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("mode=get object_mb=%d repeat=%d seconds=%.2f GB_per_s=%.2f\n", a.object_mb,
              a.repeat, secs, bytes / secs / 1e9);
  return 0;
}

int run_list(const Args& a) {
  Connection c(a);
  std::string out;
  c.request(http::verb::put, "/" + a.bucket, "", "", &out);
  c.request(http::verb::get, "/" + a.bucket + "?list-type=2&max-keys=1&start-after=k" +
                                 std::to_string(a.objects - 1 + 10'000'000),
            "", "", &out);
  const bool have = out.find("<KeyCount>0</KeyCount>") == std::string::npos ||
                    out.find("<Key>") != std::string::npos;
  if (!have) {
    std::atomic<long> next{0};
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < a.concurrency; ++t) {
      threads.emplace_back([&] {
        Connection w(a);
        std::string o;
        for (long i = next.fetch_add(1); i < a.objects; i = next.fetch_add(1)) {
          w.request(http::verb::put, "/" + a.bucket + "/k" + std::to_string(10'000'000 + i), "",
                    "v", &o);
        }
      });
    }
    for (auto& th : threads) th.join();
    std::fprintf(stderr, "put %ld objects in %.1f s\n", a.objects,
                 std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const auto start = Clock::now();
  long pages = 0, keys = 0;
  std::string token;
  for (;;) {
    std::string target = "/" + a.bucket + "?list-type=2&max-keys=1000";
    if (!token.empty()) {
      std::string enc;
      for (char ch : token) {
        if (ch == '+' || ch == '/' || ch == '=') {
          char buf[4];
          std::snprintf(buf, sizeof(buf), "%%%02X", static_cast<unsigned char>(ch));
          enc += buf;
        } else {
          enc.push_back(ch);
        }
      }
      target += "&continuation-token=" + enc;
    }
    if (c.request(http::verb::get, target, "", "", &out) != 200) {
      std::fprintf(stderr, "ListObjectsV2 failed: %.300s\n", out.c_str());
      return 1;
    }
    ++pages;
    for (size_t p = out.find("<Key>"); p != std::string::npos; p = out.find("<Key>", p + 1)) ++keys;
    size_t t = out.find("<NextContinuationToken>");
    if (t == std::string::npos) break;
    size_t e = out.find("</NextContinuationToken>", t);
    token = out.substr(t + 23, e - t - 23);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("mode=list keys=%ld pages=%ld seconds=%.2f pages_per_s=%.1f\n", keys, pages, secs,
              pages / secs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--endpoint") {
      std::string e = next();
      if (e.rfind("http://", 0) == 0) e = e.substr(7);
      size_t colon = e.rfind(':');
      a.host = e.substr(0, colon);
      a.port = e.substr(colon + 1);
    } else if (k == "--mode") a.mode = next();
    else if (k == "--stream") a.stream = next();
    else if (k == "--bucket") a.bucket = next();
    else if (k == "--compression") a.compression = next();
    else if (k == "--records") a.records = std::stol(next());
    else if (k == "--record-size") a.record_size = std::stoi(next());
    else if (k == "--batch") a.batch = std::stoi(next());
    else if (k == "--concurrency") a.concurrency = std::stoi(next());
    else if (k == "--size-mb") a.size_mb = std::stoi(next());
    else if (k == "--interval") a.interval_s = std::stoi(next());
    else if (k == "--object-mb") a.object_mb = std::stoi(next());
    else if (k == "--repeat") a.repeat = std::stoi(next());
    else if (k == "--objects") a.objects = std::stol(next());
    else if (k == "--shards") a.shards = std::stoi(next());
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (a.mode == "put") return run_put(a);
  if (a.mode == "kinesis") return run_kinesis(a);
  if (a.mode == "get") return run_get(a);
  if (a.mode == "list") return run_list(a);
  std::fprintf(stderr, "unknown mode %s\n", a.mode.c_str());
  return 2;
}
