// Built-in functions, FilterCriteria patterns, the Kinesis event JSON and the YAML parser.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "freshet/process/config.h"
#include "freshet/process/filter.h"
#include "freshet/process/function.h"

namespace freshet::process {
namespace {

Batch batch_of(const std::vector<std::string>& datas, std::vector<std::string>& seqs) {
  Batch b;
  b.shard_id = "shardId-000000000000";
  b.event_source_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
  b.region = "us-east-1";
  seqs.clear();
  for (size_t i = 0; i < datas.size(); ++i) seqs.push_back(std::to_string(1000 + i));
  auto kept = std::make_shared<std::vector<std::string>>(datas);  // the caller's may be temporary
  b.storage.push_back(kept);
  for (size_t i = 0; i < datas.size(); ++i) {
    b.records.push_back({seqs[i], "pk", (*kept)[i], 1700000000000 + static_cast<int64_t>(i)});
  }
  return b;
}

FunctionConfig extract_config() {
  FunctionConfig c;
  c.name = "x";
  c.kind = FunctionConfig::Kind::kExtract;
  c.extract = {
      {"id", "id_str", ExtractField::Type::kS, true, std::nullopt},
      {"lang", "lang", ExtractField::Type::kS, false, std::string("und")},
      {"retweets", "retweet_count", ExtractField::Type::kN, false, std::nullopt},
      {"user", "user.screen_name", ExtractField::Type::kS, false, std::nullopt},
      {"tags", "entities.hashtags[*].text", ExtractField::Type::kSS, false, std::nullopt},
      {"first_tag", "entities.hashtags[0].text", ExtractField::Type::kS, false, std::nullopt},
      {"verified", "user.verified", ExtractField::Type::kBool, false, std::string("false")},
  };
  return c;
}

TEST(Extract, MapsPathsToTypedAttributes) {
  auto fn = make_function(extract_config());
  ASSERT_TRUE(fn.ok()) << fn.error().to_string();
  std::vector<std::string> seqs;
  Batch b = batch_of({R"({"id_str":"42","lang":"en","retweet_count":7.50,"user":{"screen_name":"ann","verified":true},
                         "entities":{"hashtags":[{"text":"b"},{"text":"a"},{"text":"b"}]}})",
                      R"({"id_str":"43"})"},
                     seqs);
  InvokeResult r = (*fn)->invoke(b);
  ASSERT_TRUE(r.failures.empty());
  ASSERT_EQ(r.outputs.size(), 2u);
  const table::Item& a = r.outputs[0].item;
  EXPECT_EQ(a.at("id").str(), "42");
  EXPECT_EQ(a.at("lang").str(), "en");
  EXPECT_EQ(a.at("retweets").type(), table::Type::kN);
  EXPECT_EQ(a.at("retweets").str(), "7.5");
  EXPECT_EQ(a.at("user").str(), "ann");
  EXPECT_EQ(a.at("tags").members(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(a.at("first_tag").str(), "b");
  EXPECT_TRUE(a.at("verified").as_bool());
  const table::Item& b2 = r.outputs[1].item;
  EXPECT_EQ(b2.at("lang").str(), "und");  // default
  EXPECT_FALSE(b2.contains("retweets"));  // optional, absent
  EXPECT_FALSE(b2.contains("tags"));      // an empty set is left out
  EXPECT_FALSE(b2.at("verified").as_bool());
  EXPECT_EQ(r.outputs[1].record, 1u);
}

TEST(Extract, BadRecordsArePermanentFailuresWithTheReason) {
  auto fn = make_function(extract_config());
  ASSERT_TRUE(fn.ok());
  std::vector<std::string> seqs;
  Batch b = batch_of({R"({"id_str":"1"})", "not json {", R"({"lang":"en"})",
                      R"({"id_str":"4","retweet_count":"many"})", R"({"id_str":{"x":1}})",
                      R"({"id_str":"6"})"},
                     seqs);
  InvokeResult r = (*fn)->invoke(b);
  ASSERT_EQ(r.outputs.size(), 2u);
  EXPECT_EQ(r.outputs[0].record, 0u);
  EXPECT_EQ(r.outputs[1].record, 5u);
  ASSERT_EQ(r.failures.size(), 4u);
  for (const auto& f : r.failures) EXPECT_TRUE(f.permanent);
  EXPECT_EQ(r.failures[0].record, 1u);
  EXPECT_NE(r.failures[0].reason.find("not valid JSON"), std::string::npos) << r.failures[0].reason;
  EXPECT_EQ(r.failures[1].reason, "missing required field 'id' (id_str)");
  EXPECT_NE(r.failures[2].reason.find("expected a number, got a string"), std::string::npos)
      << r.failures[2].reason;
  EXPECT_NE(r.failures[3].reason.find("expected a string, got an object"), std::string::npos);
}

// Fields whose paths share leading members are looked up together: each takes the first
// member of its name (as a lookup by key does), a prefix that is not an object yields nothing,
// index paths from the root still work, and of a name declared twice the last field with a
// value wins.
TEST(Extract, SharedPathPrefixesResolveLikeSeparateLookups) {
  FunctionConfig c;
  c.name = "x";
  c.kind = FunctionConfig::Kind::kExtract;
  c.extract = {
      {"id", "id", ExtractField::Type::kS, true, std::nullopt},
      {"name", "user.name", ExtractField::Type::kS, false, std::nullopt},
      {"city", "user.place.city", ExtractField::Type::kS, false, std::nullopt},
      {"n", "user.n", ExtractField::Type::kN, false, std::nullopt},
      {"first", "$.user.tags[0]", ExtractField::Type::kS, false, std::nullopt},
      {"tags", "user.tags", ExtractField::Type::kSS, false, std::nullopt},
      {"alias", "user.name", ExtractField::Type::kS, false, std::nullopt},
      {"alias", "user.alias", ExtractField::Type::kS, false, std::nullopt},
  };
  auto fn = make_function(c);
  ASSERT_TRUE(fn.ok()) << fn.error().to_string();
  std::vector<std::string> seqs;
  Batch b = batch_of(
      {R"({"user":{"n":1,"name":"ann","place":{"city":"Oslo"},"tags":["t","u"],"name":"bob"},"id":"a","id":"b"})",
       R"({"id":"c","user":"not an object"})",
       R"({"id":"d","user":{"place":[{"city":"x"}],"alias":"al"}})",
       R"([{"id":"e"}])"},
      seqs);
  InvokeResult r = (*fn)->invoke(b);
  ASSERT_EQ(r.outputs.size(), 3u);
  const table::Item& a = r.outputs[0].item;
  EXPECT_EQ(a.at("id").str(), "a");
  EXPECT_EQ(a.at("name").str(), "ann");
  EXPECT_EQ(a.at("city").str(), "Oslo");
  EXPECT_EQ(a.at("n").str(), "1");
  EXPECT_EQ(a.at("first").str(), "t");
  EXPECT_EQ(a.at("tags").members(), (std::vector<std::string>{"t", "u"}));
  EXPECT_EQ(a.at("alias").str(), "ann");  // the second "alias" found nothing
  EXPECT_EQ(a.size(), 7u);
  const table::Item& b2 = r.outputs[1].item;
  EXPECT_EQ(b2.size(), 1u);
  EXPECT_EQ(b2.at("id").str(), "c");
  const table::Item& d = r.outputs[2].item;
  EXPECT_EQ(d.at("alias").str(), "al");
  EXPECT_FALSE(d.contains("city"));  // place is an array: no member "city"
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].record, 3u);
  EXPECT_EQ(r.failures[0].reason, "missing required field 'id' (id)");
}

TEST(Extract, ConfigErrors) {
  FunctionConfig c = extract_config();
  c.extract.push_back({"bad", "a..b", ExtractField::Type::kS, false, std::nullopt});
  EXPECT_FALSE(make_function(c).ok());
  c = extract_config();
  c.extract.push_back({"bad", "a[*].b", ExtractField::Type::kS, false, std::nullopt});
  EXPECT_FALSE(make_function(c).ok());
  c = extract_config();
  c.extract.push_back({"n", "n", ExtractField::Type::kN, false, std::string("abc")});
  EXPECT_FALSE(make_function(c).ok());
}

bool match(const std::string& pattern, const std::string& data, const std::string& pk = "pk") {
  auto f = FilterSet::compile({pattern});
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().to_string());
  if (!f.ok()) return false;
  Record r{"1", pk, data, 1000};
  return f->matches(r);
}

TEST(Filter, LambdaPatterns) {
  const std::string tweet = R"({"lang":"en","n":12,"user":{"name":"Ann","tags":["x","y"]},"z":null})";
  EXPECT_TRUE(match(R"({"data":{"lang":["en"]}})", tweet));
  EXPECT_FALSE(match(R"({"data":{"lang":["fr"]}})", tweet));
  EXPECT_TRUE(match(R"({"data":{"lang":["fr","en"]}})", tweet));
  EXPECT_TRUE(match(R"({"data":{"lang":[{"prefix":"e"}]}})", tweet));
  EXPECT_TRUE(match(R"({"data":{"lang":[{"suffix":"n"}]}})", tweet));
  EXPECT_TRUE(match(R"({"data":{"user":{"name":[{"equals-ignore-case":"ANN"}]}}})", tweet));
  EXPECT_TRUE(match(R"({"data":{"lang":[{"anything-but":["fr","de"]}]}})", tweet));
  EXPECT_FALSE(match(R"({"data":{"lang":[{"anything-but":"en"}]}})", tweet));
  EXPECT_FALSE(match(R"({"data":{"lang":[{"anything-but":{"prefix":"e"}}]}})", tweet));
  EXPECT_TRUE(match(R"({"data":{"n":[{"numeric":[">",10,"<=",12]}]}})", tweet));
  EXPECT_FALSE(match(R"({"data":{"n":[{"numeric":["<",10]}]}})", tweet));
  EXPECT_TRUE(match(R"({"data":{"n":[12]}})", tweet));
  EXPECT_TRUE(match(R"({"data":{"user":{"tags":["y"]}}})", tweet));  // any element of an array
  EXPECT_TRUE(match(R"({"data":{"missing":[{"exists":false}]}})", tweet));
  EXPECT_FALSE(match(R"({"data":{"missing":[{"exists":true}]}})", tweet));
  EXPECT_TRUE(match(R"({"data":{"lang":[{"exists":true}]}})", tweet));
  EXPECT_TRUE(match(R"({"data":{"z":[null]}})", tweet));
  EXPECT_TRUE(match(R"({"partitionKey":["pk"]})", tweet));
  EXPECT_FALSE(match(R"({"partitionKey":["other"]})", tweet));
  // AND across keys.
  EXPECT_FALSE(match(R"({"data":{"lang":["en"],"n":[1]}})", tweet));
  // Data that is not JSON matches only patterns that do not look into it.
  EXPECT_FALSE(match(R"({"data":{"lang":["en"]}})", "plain text"));
  EXPECT_TRUE(match(R"({"partitionKey":["pk"]})", "plain text"));
}

TEST(Filter, InvalidPatterns) {
  for (const char* p : {"[]", "{\"data\":\"x\"}", "{\"data\":{\"a\":[{\"numeric\":[\"~\",1]}]}}",
                        "{\"data\":{\"a\":[{\"bogus\":1}]}}", "{\"a\":[]}", "not json"}) {
    EXPECT_FALSE(FilterSet::compile({p}).ok()) << p;
  }
}

TEST(Filter, FunctionPassesMatchingRecordsOnly) {
  FunctionConfig c;
  c.name = "f";
  c.kind = FunctionConfig::Kind::kFilter;
  c.filter_patterns = {R"({"data":{"lang":["en"]}})"};
  auto fn = make_function(c);
  ASSERT_TRUE(fn.ok());
  std::vector<std::string> seqs;
  Batch b = batch_of({R"({"lang":"en"})", R"({"lang":"fr"})", "junk", R"({"lang":"en","i":2})"}, seqs);
  InvokeResult r = (*fn)->invoke(b);
  ASSERT_EQ(r.outputs.size(), 2u);
  EXPECT_EQ(r.outputs[0].data, R"({"lang":"en"})");
  EXPECT_EQ(r.outputs[1].record, 3u);
}

TEST(WindowCount, CountsCarryStateAndWriteOnTheFinalInvoke) {
  FunctionConfig c;
  c.name = "w";
  c.kind = FunctionConfig::Kind::kWindowCount;
  c.counts = {{"hashtags", "entities.hashtags[*].text"}, {"lang", "lang"}};
  auto fn = make_function(c);
  ASSERT_TRUE(fn.ok()) << fn.error().to_string();
  std::vector<std::string> seqs;
  Batch b = batch_of({R"({"lang":"en","entities":{"hashtags":[{"text":"a"},{"text":"b"}]}})",
                      R"({"lang":"fr","entities":{"hashtags":[{"text":"a"}]}})", "bad"},
                     seqs);
  b.window = Window{60000, 120000, "{}", false};
  InvokeResult r1 = (*fn)->invoke(b);
  EXPECT_TRUE(r1.outputs.empty());
  ASSERT_TRUE(r1.window_state);
  ASSERT_EQ(r1.failures.size(), 1u);
  EXPECT_EQ(r1.failures[0].record, 2u);
  Batch fin;
  fin.window = Window{60000, 120000, *r1.window_state, true};
  InvokeResult r2 = (*fn)->invoke(fin);
  std::map<std::string, std::string> counts;
  for (const auto& o : r2.outputs) {
    counts[o.item.at("key").str()] = o.item.at("count").str();
    EXPECT_EQ(o.item.at("window_start").str(), "60");
    EXPECT_EQ(o.item.at("window_end").str(), "120");
  }
  EXPECT_EQ(counts, (std::map<std::string, std::string>{
                        {"hashtags#a", "2"}, {"hashtags#b", "1"}, {"lang#en", "1"}, {"lang#fr", "1"}}));
}

// A mapping passes Window::continues instead of the state text once the function holds the
// window's state: the counts go on from the function's own state, no text is answered, and
// window_state() gives the text a checkpoint stores (which a new instance takes up again).
TEST(WindowCount, KeptStateContinuesWithoutTheText) {
  FunctionConfig c;
  c.name = "w";
  c.kind = FunctionConfig::Kind::kWindowCount;
  c.counts = {{"lang", "lang"}};
  auto fn = make_function(c);
  ASSERT_TRUE(fn.ok()) << fn.error().to_string();
  ASSERT_TRUE((*fn)->keeps_window_state());
  std::vector<std::string> seqs;
  Batch b1 = batch_of({R"({"lang":"en"})", R"({"lang":"fr"})"}, seqs);
  b1.window = Window{0, 60000, R"({"lang#en":5})", false};
  InvokeResult r1 = (*fn)->invoke(b1);
  ASSERT_TRUE(r1.window_state);  // given the text: answers the text
  std::vector<std::string> seqs2;
  Batch b2 = batch_of({R"({"lang":"en"})"}, seqs2);
  b2.window = Window{0, 60000, "", false};
  b2.window->continues = true;
  InvokeResult r2 = (*fn)->invoke(b2);
  EXPECT_FALSE(r2.window_state);
  EXPECT_TRUE(r2.outputs.empty());
  const std::string text = (*fn)->window_state();
  EXPECT_NE(text.find("\"lang#en\":7"), std::string::npos) << text;
  EXPECT_NE(text.find("\"lang#fr\":1"), std::string::npos) << text;

  // A new instance (a restart) continues from the text.
  auto again = make_function(c);
  ASSERT_TRUE(again.ok());
  Batch fin;
  fin.window = Window{0, 60000, text, true};
  InvokeResult r3 = (*again)->invoke(fin);
  std::map<std::string, std::string> counts;
  for (const auto& o : r3.outputs) counts[o.item.at("key").str()] = o.item.at("count").str();
  EXPECT_EQ(counts, (std::map<std::string, std::string>{{"lang#en", "7"}, {"lang#fr", "1"}}));
  EXPECT_EQ((*again)->window_state(), "{}");

  // The final invocation of the kept state ends it: the next window starts empty.
  Batch fin2;
  fin2.window = Window{0, 60000, "", true};
  fin2.window->continues = true;
  InvokeResult r4 = (*fn)->invoke(fin2);
  EXPECT_EQ(r4.outputs.size(), 2u);
  EXPECT_EQ((*fn)->window_state(), "{}");
}

// The state's text goes into the shard's checkpoint item (400 KB at most): long values stop
// being counted apart once the text would pass its budget (320 KiB) and count as
// "<name>#(other)" instead, so every record is still counted once.
TEST(WindowCount, StateTextStaysUnderTheItemLimit) {
  FunctionConfig c;
  c.name = "w";
  c.kind = FunctionConfig::Kind::kWindowCount;
  c.counts = {{"tag", "tag"}};
  auto fn = make_function(c);
  ASSERT_TRUE(fn.ok()) << fn.error().to_string();
  std::vector<std::string> datas;
  for (int i = 0; i < 3000; ++i) {  // 3,000 values of 200 characters: 600 KB of keys
    std::string v(200, 'x');
    const std::string n = std::to_string(i);
    v.replace(0, n.size(), n);
    datas.push_back("{\"tag\":\"" + v + "\"}");
  }
  std::vector<std::string> seqs;
  Batch b = batch_of(datas, seqs);
  b.window = Window{0, 60000, "{}", false};
  InvokeResult r1 = (*fn)->invoke(b);
  ASSERT_TRUE(r1.window_state);
  EXPECT_LE(r1.window_state->size(), 320u * 1024);
  EXPECT_GT(r1.window_state->size(), 300u * 1024);  // the budget is used, not a fraction of it
  Batch fin;
  fin.window = Window{0, 60000, *r1.window_state, true};
  InvokeResult r2 = (*fn)->invoke(fin);
  int64_t total = 0, other = 0;
  for (const auto& o : r2.outputs) {
    const int64_t n = std::stoll(o.item.at("count").str());
    total += n;
    if (o.item.at("key").str() == "tag#(other)") other = n;
  }
  EXPECT_EQ(total, 3000);
  EXPECT_GT(other, 0);
  EXPECT_EQ(static_cast<int64_t>(r2.outputs.size()), 3000 - other + 1);
}

TEST(KinesisEvent, RoundTripsAndResponsesMapToRecords) {
  std::vector<std::string> seqs;
  Batch b = batch_of({"hello", std::string("\0\x01\xff", 3)}, seqs);
  const std::string json = encode_kinesis_event(b, "arn:aws:lambda:us-east-1:000000000000:function:f");
  EXPECT_NE(json.find("\"eventSource\":\"aws:kinesis\""), std::string::npos);
  EXPECT_NE(json.find("\"data\":\"aGVsbG8=\""), std::string::npos);
  auto d = decode_kinesis_event(json);
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  ASSERT_EQ(d->records.size(), 2u);
  EXPECT_EQ(d->records[1].data, std::string("\0\x01\xff", 3));
  EXPECT_EQ(d->records[0].sequence_number, "1000");
  EXPECT_EQ(d->records[1].arrival_ms, 1700000000001);
  EXPECT_EQ(d->shard_id, "shardId-000000000000");

  InvokeResult r;
  ASSERT_TRUE(decode_kinesis_response(R"({"batchItemFailures":[{"itemIdentifier":"1001"}]})", b, r).ok());
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].record, 1u);
  EXPECT_FALSE(r.failures[0].permanent);
  InvokeResult bad;
  ASSERT_TRUE(decode_kinesis_response(R"({"batchItemFailures":[{"itemIdentifier":""}]})", b, bad).ok());
  EXPECT_EQ(bad.function_error, "Unhandled");
  InvokeResult none;
  ASSERT_TRUE(decode_kinesis_response("null", b, none).ok());
  EXPECT_TRUE(none.function_error.empty());
  EXPECT_TRUE(none.failures.empty());
}

TEST(KinesisEvent, BuiltinInvokePayloadAnswersBatchItemFailures) {
  auto fn = make_function(extract_config());
  ASSERT_TRUE(fn.ok());
  std::vector<std::string> seqs;
  Batch b = batch_of({R"({"id_str":"1"})", "{"}, seqs);
  InvokeResult r = (*fn)->invoke_payload(encode_kinesis_event(b, ""));
  EXPECT_TRUE(r.function_error.empty());
  EXPECT_NE(r.payload.find(R"("batchItemFailures":[{"itemIdentifier":"1001")"), std::string::npos)
      << r.payload;
  EXPECT_NE(r.payload.find(R"("outputs":[{"id":"1","lang":"und","verified":false}])"), std::string::npos)
      << r.payload;
  InvokeResult e = (*fn)->invoke_payload("{\"not\":\"an event\"}");
  EXPECT_EQ(e.function_error, "Unhandled");
}

TEST(Config, ParsesFunctionsAndRejectsMistakes) {
  YAML::Node n = YAML::Load(R"(
- name: tweets-extract
  kind: extract
  memory: 256
  timeout: 10
  sink: {table: tweets, key: {hash: id}}
  fields:
    - {name: id, path: id_str, required: true}
    - {name: n, path: retweet_count, type: N, default: 0}
- name: english
  kind: filter
  sink: {stream: english}
  patterns:
    - {data: {lang: [en], n: [{numeric: [">", 1]}]}}
    - '{"partitionKey": ["x"]}'
- name: tags
  kind: window_count
  sink: {table: counts}
  counts: [{name: hashtags, path: "entities.hashtags[*].text"}]
- name: py
  kind: exec
  runtime: python
  handler: handler.handler
  dir: fn
)");
  auto fs = parse_functions(n, "/base");
  ASSERT_TRUE(fs.ok()) << fs.error().to_string();
  ASSERT_EQ(fs->size(), 4u);
  EXPECT_EQ((*fs)[0].memory_mb, 256);
  EXPECT_EQ((*fs)[0].sink.kind, SinkConfig::Kind::kTable);
  ASSERT_TRUE((*fs)[0].sink.create_key);
  EXPECT_EQ((*fs)[0].sink.create_key->hash.name, "id");
  EXPECT_EQ((*fs)[0].extract[1].default_value, "0");
  EXPECT_EQ((*fs)[1].filter_patterns[0], R"({"data":{"lang":["en"],"n":[{"numeric":[">",1]}]}})");
  EXPECT_EQ((*fs)[3].exec.working_dir, "/base/fn");

  for (const char* bad : {
           "- {name: a, kind: nope}",
           "- {name: 'bad name', kind: extract, fields: [{name: a, path: a}]}",
           "- {name: a, kind: extract}",
           "- {name: a, kind: extract, fields: [{name: a, path: a, type: Q}]}",
           "- {name: a, kind: extract, fields: [{name: a, path: a}], colour: red}",
           "- {name: a, kind: extract, fields: [{name: a, path: a}], memory: 64}",
           "- {name: a, kind: filter, patterns: ['{']}",
           "- {name: a, kind: exec, runtime: cobol, handler: a.b}",
           "- {name: a, kind: extract, fields: [{name: a, path: a}]}\n- {name: a, kind: extract, fields: [{name: a, path: a}]}",
           "- {name: a, kind: extract, fields: [{name: a, path: a}], sink: {table: t, stream: s}}",
       }) {
    auto r = parse_functions(YAML::Load(bad), "");
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(Config, ParsesWorkerMappingsAndRejectsMistakes) {
  auto ms = parse_mappings(YAML::Load(R"(
- uuid: m1
  function: extract
  source: arn:aws:kinesis:us-east-1:000000000000:stream/tweets
  starting_position: TRIM_HORIZON
  batch_size: 500
  bisect: true
  filters: [{data: {lang: [en]}}]
)"));
  ASSERT_TRUE(ms.ok()) << ms.error().to_string();
  ASSERT_EQ(ms->size(), 1u);
  const Mapping& m = ms->front();
  EXPECT_EQ(m.uuid, "m1");
  EXPECT_EQ(m.function_name, "extract");
  EXPECT_EQ(m.starting_position, StartingPosition::kTrimHorizon);
  EXPECT_EQ(m.batch_size, 500);
  EXPECT_TRUE(m.bisect_batch_on_function_error);
  ASSERT_EQ(m.filter_patterns.size(), 1u);
  EXPECT_EQ(m.filter_patterns[0], R"({"data":{"lang":["en"]}})");
  const std::string src = "source: arn:aws:kinesis:us-east-1:000000000000:stream/s";
  for (const std::string& bad : {
           "- {function: f, " + src + "}",                                  // no uuid
           "- {uuid: a, " + src + "}",                                       // no function
           std::string("- {uuid: a, function: f}"),                          // no source
           "- {uuid: a, function: f, " + src + ", batch_size: 0}",          // out of range
           "- {uuid: a, function: f, " + src + ", colour: red}",            // unknown key
           "- {uuid: a, function: f, " + src + ", starting_position: NOW}",
           "- {uuid: a, function: f, " + src + "}\n- {uuid: a, function: g, " + src + "}",
       }) {
    auto r = parse_mappings(YAML::Load(bad));
    EXPECT_FALSE(r.ok()) << bad;
  }
}

}  // namespace
}  // namespace freshet::process
