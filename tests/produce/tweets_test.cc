#include "freshet/produce/tweets.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <set>

namespace freshet::produce {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

std::vector<GeneratedEvent> generate(const TweetOptions& o, int n) {
  TweetGenerator g(o);
  std::vector<GeneratedEvent> out(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) g.next(kT0 + i, &out[static_cast<size_t>(i)]);
  return out;
}

// The substring of s from code point `start` to `end`.
std::string code_point_slice(std::string_view s, size_t start, size_t end) {
  std::string out;
  size_t cp = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool lead = (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
    if (lead && i != 0) ++cp;
    if (cp >= start && cp < end) out += s[i];
  }
  return out;
}

TEST(TweetGenerator, SameSeedSameBytesOtherSeedOtherBytes) {
  TweetOptions o;
  o.seed = 42;
  o.shape = TweetShape::kMixed;
  o.malformed_share = 0.05;
  const auto a = generate(o, 2000);
  const auto b = generate(o, 2000);
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].data, b[i].data) << i;
    ASSERT_EQ(a[i].partition_key, b[i].partition_key);
  }
  o.seed = 43;
  const auto c = generate(o, 50);
  int same = 0;
  for (size_t i = 0; i < c.size(); ++i) same += a[i].data == c[i].data ? 1 : 0;
  EXPECT_LT(same, 5);
}

TEST(TweetGenerator, V1TweetsAreValidJsonWithConsistentEntities) {
  TweetOptions o;
  o.seed = 7;
  const auto events = generate(o, 3000);
  simdjson::dom::parser parser;
  std::set<uint64_t> ids;
  int retweets = 0, quotes = 0, with_tags = 0, non_ascii = 0;
  for (const GeneratedEvent& e : events) {
    ASSERT_EQ(e.kind, RecordKind::kValid);
    simdjson::dom::element t;
    ASSERT_EQ(parser.parse(e.data).get(t), simdjson::SUCCESS) << e.data;
    uint64_t id = 0;
    ASSERT_EQ(t["id"].get(id), simdjson::SUCCESS);
    std::string_view id_str, text, lang, created, user_id;
    ASSERT_EQ(t["id_str"].get(id_str), simdjson::SUCCESS);
    EXPECT_EQ(std::to_string(id), id_str);
    EXPECT_EQ(id, e.tweet_id);
    EXPECT_TRUE(ids.insert(id).second) << "duplicate id " << id;
    ASSERT_EQ(t["text"].get(text), simdjson::SUCCESS);
    ASSERT_EQ(t["lang"].get(lang), simdjson::SUCCESS);
    EXPECT_EQ(lang, e.lang);
    ASSERT_EQ(t["created_at"].get(created), simdjson::SUCCESS);
    EXPECT_EQ(created.size(), 30u) << created;  // "Tue Nov 14 22:13:20 +0000 2023"
    ASSERT_EQ(t["user"]["id_str"].get(user_id), simdjson::SUCCESS);
    EXPECT_EQ(user_id, e.partition_key);
    EXPECT_EQ(user_id, e.author_id);
    int64_t followers = -1;
    ASSERT_EQ(t["user"]["followers_count"].get(followers), simdjson::SUCCESS);
    EXPECT_GE(followers, 0);
    bool verified = false;
    ASSERT_EQ(t["user"]["verified"].get(verified), simdjson::SUCCESS);
    // Entity indices are code points into the text.
    simdjson::dom::array tags;
    ASSERT_EQ(t["entities"]["hashtags"].get(tags), simdjson::SUCCESS);
    std::vector<std::string> seen;
    for (simdjson::dom::element h : tags) {
      std::string_view tag;
      ASSERT_EQ(h["text"].get(tag), simdjson::SUCCESS);
      const uint64_t a = h["indices"].at(0).get_uint64().value();
      const uint64_t b = h["indices"].at(1).get_uint64().value();
      EXPECT_EQ(code_point_slice(text, a, b), "#" + std::string(tag)) << text;
      seen.emplace_back(tag);
    }
    EXPECT_EQ(seen, e.hashtags);
    simdjson::dom::array mentions;
    ASSERT_EQ(t["entities"]["user_mentions"].get(mentions), simdjson::SUCCESS);
    for (simdjson::dom::element m : mentions) {
      std::string_view name;
      ASSERT_EQ(m["screen_name"].get(name), simdjson::SUCCESS);
      const uint64_t a = m["indices"].at(0).get_uint64().value();
      const uint64_t b = m["indices"].at(1).get_uint64().value();
      EXPECT_EQ(code_point_slice(text, a, b), "@" + std::string(name)) << text;
    }
    with_tags += tags.size() > 0 ? 1 : 0;
    simdjson::dom::element nested;
    if (t["retweeted_status"].get(nested) == simdjson::SUCCESS) {
      ++retweets;
      EXPECT_EQ(text.substr(0, 4), "RT @");
    }
    if (t["quoted_status"].get(nested) == simdjson::SUCCESS) ++quotes;
    for (unsigned char c : text) {
      if (c >= 0x80) {
        ++non_ascii;
        break;
      }
    }
  }
  // Retweets ~20%, quotes ~5%, hashtags in most, non-Latin scripts and emoji in many.
  EXPECT_GT(retweets, 450);
  EXPECT_LT(retweets, 750);
  EXPECT_GT(quotes, 90);
  EXPECT_LT(quotes, 220);
  EXPECT_GT(with_tags, 1200);
  EXPECT_GT(non_ascii, 900);
}

TEST(TweetGenerator, V2FramesHaveDataIncludesAndMatchingRules) {
  TweetOptions o;
  o.seed = 9;
  o.shape = TweetShape::kV2;
  const auto events = generate(o, 1000);
  simdjson::dom::parser parser;
  int referenced = 0;
  for (const GeneratedEvent& e : events) {
    simdjson::dom::element f;
    ASSERT_EQ(parser.parse(e.data).get(f), simdjson::SUCCESS) << e.data;
    std::string_view id, author, created, first_user;
    ASSERT_EQ(f["data"]["id"].get(id), simdjson::SUCCESS);
    EXPECT_EQ(id, std::to_string(e.tweet_id));
    ASSERT_EQ(f["data"]["author_id"].get(author), simdjson::SUCCESS);
    EXPECT_EQ(author, e.partition_key);
    ASSERT_EQ(f["data"]["created_at"].get(created), simdjson::SUCCESS);
    EXPECT_EQ(created.size(), 24u) << created;  // "2023-11-14T22:13:20.000Z"
    ASSERT_EQ(f["includes"]["users"].at(0)["id"].get(first_user), simdjson::SUCCESS);
    EXPECT_EQ(first_user, author);
    simdjson::dom::array rules;
    ASSERT_EQ(f["matching_rules"].get(rules), simdjson::SUCCESS);
    simdjson::dom::array refs;
    if (f["data"]["referenced_tweets"].get(refs) == simdjson::SUCCESS) {
      ++referenced;
      simdjson::dom::array tweets;
      ASSERT_EQ(f["includes"]["tweets"].get(tweets), simdjson::SUCCESS);
    }
    simdjson::dom::array tags;
    if (f["data"]["entities"]["hashtags"].get(tags) == simdjson::SUCCESS) {
      std::string_view text;
      ASSERT_EQ(f["data"]["text"].get(text), simdjson::SUCCESS);
      for (simdjson::dom::element h : tags) {
        std::string_view tag;
        ASSERT_EQ(h["tag"].get(tag), simdjson::SUCCESS);
        EXPECT_EQ(code_point_slice(text, h["start"].get_uint64().value(),
                                   h["end"].get_uint64().value()),
                  "#" + std::string(tag));
      }
    }
  }
  EXPECT_GT(referenced, 150);
}

TEST(TweetGenerator, MalformedEventsComeInTheAskedShareAndAreMalformed) {
  TweetOptions o;
  o.seed = 11;
  o.shape = TweetShape::kMixed;
  o.malformed_share = 0.01;
  o.oversized_bytes = 410'000;
  const auto events = generate(o, 40'000);
  simdjson::dom::parser parser;
  std::map<RecordKind, int> kinds;
  for (const GeneratedEvent& e : events) {
    ++kinds[e.kind];
    ASSERT_EQ(e.data.find('\n'), std::string::npos);
    ASSERT_FALSE(e.partition_key.empty());
    simdjson::dom::element root;
    const bool parses = parser.parse(e.data).get(root) == simdjson::SUCCESS;
    switch (e.kind) {
      case RecordKind::kValid:
        ASSERT_TRUE(parses);
        ASSERT_LT(e.data.size(), 20'000u);
        break;
      case RecordKind::kTruncated:
      case RecordKind::kBinaryJunk:
        EXPECT_FALSE(parses) << e.data;
        break;
      case RecordKind::kWrongTypes: {
        ASSERT_TRUE(parses) << e.data;
        std::string_view s;
        // Neither shape's tweet id is a string where it should be.
        EXPECT_NE(root["id_str"].get(s), simdjson::SUCCESS);
        EXPECT_NE(root["data"]["id"].get(s), simdjson::SUCCESS);
        EXPECT_NE(root["user"]["id_str"].get(s), simdjson::SUCCESS);
        EXPECT_NE(root["data"]["author_id"].get(s), simdjson::SUCCESS);
        break;
      }
      case RecordKind::kMissingFields: {
        ASSERT_TRUE(parses) << e.data;
        simdjson::dom::element x;
        EXPECT_NE(root["user"].get(x), simdjson::SUCCESS);
        EXPECT_NE(root["id_str"].get(x), simdjson::SUCCESS);
        EXPECT_NE(root["data"]["author_id"].get(x), simdjson::SUCCESS);
        EXPECT_NE(root["data"]["id"].get(x), simdjson::SUCCESS);
        break;
      }
      case RecordKind::kOversized:
        ASSERT_TRUE(parses);
        EXPECT_GT(e.data.size(), 410'000u);
        EXPECT_LT(e.data.size(), 1'000'000u);  // still one Kinesis record
        break;
    }
  }
  const int malformed = 40'000 - kinds[RecordKind::kValid];
  EXPECT_GT(malformed, 300);
  EXPECT_LT(malformed, 500);
  for (RecordKind k : {RecordKind::kTruncated, RecordKind::kWrongTypes,
                       RecordKind::kMissingFields, RecordKind::kBinaryJunk}) {
    EXPECT_GT(kinds[k], 20) << to_string(k);
  }
  EXPECT_GT(kinds[RecordKind::kOversized], 3);
}

TEST(TweetGenerator, UsersAndHashtagsFollowZipf) {
  TweetOptions o;
  o.seed = 5;
  o.users = 10'000;
  o.hashtags = 1'000;
  const auto events = generate(o, 20'000);
  std::map<std::string, int> authors, tags;
  int tag_total = 0;
  for (const GeneratedEvent& e : events) {
    ++authors[e.author_id];
    for (const std::string& t : e.hashtags) {
      ++tags[t];
      ++tag_total;
    }
  }
  int top_author = 0, top_tag = 0;
  for (const auto& [k, n] : authors) top_author = std::max(top_author, n);
  for (const auto& [k, n] : tags) top_tag = std::max(top_tag, n);
  // Uniform would give 2 tweets per author and ~1/1000 of tags per tag; Zipf(1.1) gives the
  // top rank roughly 1/ζ-ish of everything.
  EXPECT_GT(top_author, 1000);
  EXPECT_GT(top_tag, tag_total / 10);
  EXPECT_GT(authors.size(), 2000u);  // and a long tail
}

TEST(TweetGenerator, IdsStayUniqueWhenTheClockStandsStillOrGoesBack) {
  TweetOptions o;
  TweetGenerator g(o);
  GeneratedEvent e;
  std::set<uint64_t> ids;
  uint64_t last = 0;
  for (int i = 0; i < 10'000; ++i) {
    g.next(i < 5000 ? kT0 : kT0 - 1000, &e);
    EXPECT_TRUE(ids.insert(e.tweet_id).second);
    EXPECT_GT(e.tweet_id, last);
    last = e.tweet_id;
  }
}

TEST(TweetShape, ParsesItsNames) {
  TweetShape s;
  EXPECT_TRUE(parse_tweet_shape("v2", &s));
  EXPECT_EQ(s, TweetShape::kV2);
  EXPECT_TRUE(parse_tweet_shape("v1.1", &s));
  EXPECT_EQ(s, TweetShape::kV1);
  EXPECT_FALSE(parse_tweet_shape("v3", &s));
}

}  // namespace
}  // namespace freshet::produce
