#include "freshet/produce/tweets.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "freshet/api/codec.h"
#include "random.h"

namespace freshet::produce {

const char* to_string(TweetShape s) {
  switch (s) {
    case TweetShape::kV1:
      return "v1";
    case TweetShape::kV2:
      return "v2";
    case TweetShape::kMixed:
      return "mixed";
  }
  return "?";
}

bool parse_tweet_shape(std::string_view text, TweetShape* out) {
  if (text == "v1" || text == "v1.1") {
    *out = TweetShape::kV1;
  } else if (text == "v2") {
    *out = TweetShape::kV2;
  } else if (text == "mixed") {
    *out = TweetShape::kMixed;
  } else {
    return false;
  }
  return true;
}

const char* to_string(RecordKind k) {
  switch (k) {
    case RecordKind::kValid:
      return "valid";
    case RecordKind::kTruncated:
      return "truncated";
    case RecordKind::kWrongTypes:
      return "wrong_types";
    case RecordKind::kMissingFields:
      return "missing_fields";
    case RecordKind::kBinaryJunk:
      return "binary_junk";
    case RecordKind::kOversized:
      return "oversized";
  }
  return "?";
}

namespace {

// Twitter's epoch for snowflake ids (2010-11-04T01:42:54.657Z).
constexpr int64_t kTwitterEpochMs = 1288834974657;

struct Language {
  const char* code;
  double weight;
  std::vector<const char*> words;
};

// Rough shares of languages on Twitter, with a few words each (UTF-8).
const std::vector<Language>& languages() {
  static const std::vector<Language> kLanguages = {
      {"en", 0.38, {"the", "new", "today", "love", "this", "game", "just", "watching", "best",
                    "people", "world", "time", "can't", "believe", "happy", "finally", "night",
                    "what", "great", "season", "music", "live", "stream", "vote", "check", "out"}},
      {"ja", 0.14, {"今日", "ありがとう", "最高", "本当に", "楽しみ", "かわいい", "ライブ", "新曲",
                    "おはよう", "です", "ね", "好き", "アニメ", "見た", "すごい"}},
      {"es", 0.11, {"hoy", "gracias", "vamos", "partido", "mañana", "qué", "increíble", "amor",
                    "fútbol", "música", "nuevo", "todos", "gran", "noche", "país"}},
      {"pt", 0.08, {"hoje", "obrigado", "jogo", "amanhã", "muito", "saudade", "você", "bom",
                    "dia", "vamos", "não", "coração", "novo", "brasil"}},
      {"ar", 0.05, {"اليوم", "شكرا", "الله", "جميل", "مباراة", "الحب", "صباح", "الخير", "جديد"}},
      {"fr", 0.04, {"aujourd'hui", "merci", "très", "match", "c'est", "génial", "ce", "soir",
                    "nouveau", "à", "été", "café"}},
      {"tr", 0.03, {"bugün", "teşekkürler", "çok", "güzel", "maç", "yeni", "şarkı", "günaydın"}},
      {"ko", 0.03, {"오늘", "감사합니다", "사랑해", "최고", "콘서트", "신곡", "너무", "좋아"}},
      {"de", 0.02, {"heute", "danke", "schön", "Spiel", "neue", "Grüße", "für", "Mädchen"}},
      {"hi", 0.02, {"आज", "धन्यवाद", "बहुत", "अच्छा", "मैच", "नया", "प्यार"}},
      {"ru", 0.02, {"сегодня", "спасибо", "очень", "новый", "матч", "привет", "люблю"}},
      {"th", 0.02, {"วันนี้", "ขอบคุณ", "สวัสดี", "รัก", "ใหม่", "มาก"}},
      {"und", 0.06, {"😂", "🔥", "👀", "lol", "❤️", "💯", "✨", "🙏"}},
  };
  return kLanguages;
}

const std::array<const char*, 24> kEmoji = {"😂", "❤️", "🔥", "😍", "🙏", "😭", "✨", "👀",
                                            "💯", "🎉", "👍", "🥺", "😊", "🤣", "💪", "⚽",
                                            "🏀", "🎶", "🇯🇵", "🇧🇷", "👨‍👩‍👧", "🤔", "😎", "🌸"};

const std::array<const char*, 40> kTagStems = {
    "AI", "WorldCup", "Bitcoin", "NFL", "BTS", "NBA", "Music", "Anime", "Crypto", "Gaming",
    "Election", "Climate", "Tech", "Movies", "F1", "Fashion", "Food", "Travel", "Science", "News",
    "日本", "música", "Fútbol", "Россия", "한국", "café", "BlackLivesMatter", "Olympics", "Eurovision",
    "Netflix", "KPop", "Oscars", "SuperBowl", "ChampionsLeague", "SpaceX", "COVID19", "Brasil",
    "Paris", "Tokyo", "OpenSource"};

const std::array<const char*, 14> kSyllables = {"ka", "mi", "to", "ra", "su", "ne", "lo",
                                                "an", "el", "jo", "vi", "ta", "ro", "li"};

const std::array<const char*, 10> kLocations = {
    "San Francisco, CA", "東京", "São Paulo, Brasil", "London", "Madrid", "",
    "Lagos, Nigeria", "Seoul", "Paris, France", "🌍"};

const std::array<const char*, 5> kSources = {
    "<a href=\"http://twitter.com/download/iphone\" rel=\"nofollow\">Twitter for iPhone</a>",
    "<a href=\"http://twitter.com/download/android\" rel=\"nofollow\">Twitter for Android</a>",
    "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
    "<a href=\"https://about.twitter.com/products/tweetdeck\" rel=\"nofollow\">TweetDeck</a>",
    "<a href=\"https://buffer.com\" rel=\"nofollow\">Buffer</a>"};

// Code points in a UTF-8 string (Twitter's entity indices count code points).
size_t code_points(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

// The byte length of the first `cps` code points of s.
size_t prefix_bytes(std::string_view s, size_t cps) {
  size_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == cps) return i;
      ++seen;
    }
  }
  return s.size();
}

// The JSON string writer of the API codecs (clean text is copied eight bytes at a time).
void append_json_string(std::string& out, std::string_view s) { api::append_json_string(s, out); }

void append_u64(std::string& out, uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

// `v` as exactly `width` decimal digits (0 <= v < 10^width).
void append_fixed(std::string& out, int v, int width) {
  char buf[8];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out.append(buf, static_cast<size_t>(width));
}

// "20:19:24"
void append_hms(std::string& out, const std::tm& tm) {
  append_fixed(out, tm.tm_hour, 2);
  out += ':';
  append_fixed(out, tm.tm_min, 2);
  out += ':';
  append_fixed(out, tm.tm_sec, 2);
}

// "Wed Oct 10 20:19:24 +0000 2018"
void append_v1_time(std::string& out, int64_t ms) {
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  out.append(kDays[tm.tm_wday], 3);
  out += ' ';
  out.append(kMonths[tm.tm_mon], 3);
  out += ' ';
  append_fixed(out, tm.tm_mday, 2);
  out += ' ';
  append_hms(out, tm);
  out += " +0000 ";
  append_fixed(out, tm.tm_year + 1900, 4);
}

// "2018-10-10T20:19:24.000Z"
void append_v2_time(std::string& out, int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  append_fixed(out, tm.tm_year + 1900, 4);
  out += '-';
  append_fixed(out, tm.tm_mon + 1, 2);
  out += '-';
  append_fixed(out, tm.tm_mday, 2);
  out += 'T';
  append_hms(out, tm);
  out += '.';
  append_fixed(out, static_cast<int>(ms % 1000), 3);
  out += 'Z';
}

struct User {
  uint64_t id = 0;
  std::string id_str;
  std::string screen_name;
  std::string name;
  std::string location;
  std::string description;
  uint64_t followers = 0;
  uint64_t friends = 0;
  uint64_t statuses = 0;
  bool verified = false;
  int64_t created_ms = 0;
};

struct Entity {
  enum class Type : uint8_t { kHashtag, kMention, kUrl };
  Type type;
  size_t start = 0;  // code points
  size_t end = 0;
  std::string text;  // hashtag text, mentioned screen name, or t.co URL
  uint32_t user = 0;          // kMention: the user index
  std::string expanded_url;   // kUrl
  std::string display_url;    // kUrl
};

struct Tweet {
  uint64_t id = 0;
  int64_t ms = 0;
  uint32_t author = 0;
  std::string lang;
  std::string text;
  std::vector<Entity> entities;
  uint64_t retweets = 0, likes = 0, replies = 0, quotes = 0;
  int source = 0;
};

}  // namespace

struct TweetGenerator::Impl {
  explicit Impl(const TweetOptions& o)
      : options(o),
        rng(o.seed),
        user_zipf(std::max<uint32_t>(o.users, 1), o.zipf_exponent),
        tag_zipf(std::max<uint32_t>(o.hashtags, 1), o.zipf_exponent) {
    double total = 0;
    for (const Language& l : languages()) total += l.weight;
    double acc = 0;
    for (const Language& l : languages()) {
      acc += l.weight / total;
      lang_cdf.push_back(acc);
    }
    // The pools depend only on the seed, so two generators with one seed agree.
    Rng pool_rng(o.seed ^ 0x9e3779b97f4a7c15ull);
    make_users(pool_rng);
    make_tags(pool_rng);
  }

  void make_users(Rng& r) {
    const uint32_t n = std::max<uint32_t>(options.users, 1);
    users.resize(n);
    v1_user_json.resize(n);
    v2_user_json.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      User& u = users[i];
      // Older accounts have small ids; newer ones are snowflakes.
      u.id = r.uniform(2) == 0 ? 10'000 + r.uniform(3'000'000'000ull)
                               : 700'000'000'000'000'000ull + r.uniform(900'000'000'000'000'000ull);
      u.id_str = std::to_string(u.id);
      const int parts = 2 + static_cast<int>(r.uniform(2));
      for (int p = 0; p < parts; ++p) u.screen_name += kSyllables[r.uniform(kSyllables.size())];
      if (r.uniform(3) == 0) u.screen_name += '_';
      u.screen_name += std::to_string(i % 1000);
      if (u.screen_name.size() > 15) u.screen_name.resize(15);
      switch (r.uniform(5)) {
        case 0:
          u.name = "さくら" + std::string(kEmoji[r.uniform(kEmoji.size())]);
          break;
        case 1:
          u.name = "José Álvarez";
          break;
        default:
          u.name = u.screen_name;
          u.name[0] = static_cast<char>(u.name[0] - 'a' + 'A');
          break;
      }
      u.location = kLocations[r.uniform(kLocations.size())];
      u.description = "Fan of #" + std::string(kTagStems[r.uniform(kTagStems.size())]) + " " +
                      kEmoji[r.uniform(kEmoji.size())];
      // Followers fall with rank (rank 0 is the most tweeted and the most followed).
      u.followers = static_cast<uint64_t>(20'000'000.0 / std::pow(i + 1.0, 0.9)) + r.uniform(50);
      u.friends = r.uniform(5'000);
      u.statuses = 100 + r.uniform(200'000);
      u.verified = i < std::max<uint32_t>(1, n / 200);
      u.created_ms = 1'175'000'000'000 + static_cast<int64_t>(r.uniform(480'000'000'000ull));
    }
  }

  void make_tags(Rng& r) {
    const uint32_t n = std::max<uint32_t>(options.hashtags, 1);
    tags.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      std::string t = kTagStems[i % kTagStems.size()];
      if (i >= kTagStems.size()) t += std::to_string(i / kTagStems.size() + 2000);
      tags.push_back(std::move(t));
    }
    // Shuffle the stems (the most frequent ranks) so each seed trends differently.
    for (uint32_t i = std::min<uint32_t>(n, kTagStems.size()); i > 1; --i) {
      std::swap(tags[i - 1], tags[r.uniform(i)]);
    }
  }

  uint64_t next_id(int64_t ms) {
    int64_t t = std::max(ms, last_id_ms);
    if (t == last_id_ms) {
      if (++sequence >= 4096) {
        ++t;
        sequence = 0;
      }
    } else {
      sequence = 0;
    }
    last_id_ms = t;
    const uint64_t worker = options.seed & 0x3FF;
    return (static_cast<uint64_t>(t - kTwitterEpochMs) << 22) | (worker << 12) |
           static_cast<uint64_t>(sequence);
  }

  const Language& pick_language() {
    const double u = rng.unit();
    const auto it = std::lower_bound(lang_cdf.begin(), lang_cdf.end(), u);
    const size_t i = std::min<size_t>(static_cast<size_t>(it - lang_cdf.begin()),
                                      languages().size() - 1);
    return languages()[i];
  }

  // Appends `piece` to the tweet text (with a separating space) unless that would pass 280
  // code points. Returns the code point index it starts at, or -1 if it did not fit.
  static long add_piece(Tweet& t, size_t& cps, std::string_view piece) {
    const size_t n = code_points(piece);
    const size_t sep = t.text.empty() ? 0 : 1;
    if (cps + sep + n > 280) return -1;
    if (sep != 0) t.text += ' ';
    const size_t start = cps + sep;
    t.text += piece;
    cps = start + n;
    return static_cast<long>(start);
  }

  void make_tweet(int64_t ms, Tweet& t) {
    t = Tweet{};
    t.ms = ms;
    t.id = next_id(ms);
    t.author = user_zipf.sample(rng);
    const Language& lang = pick_language();
    t.lang = lang.code;
    t.source = static_cast<int>(rng.uniform(kSources.size()));
    size_t cps = 0;
    // Mentions first (replies start with them), then words with hashtags, emoji and a URL.
    const uint64_t mention_roll = rng.uniform(100);
    const int mentions = mention_roll < 70 ? 0 : mention_roll < 92 ? 1 : 2;
    for (int m = 0; m < mentions; ++m) {
      const uint32_t who = user_zipf.sample(rng);
      const std::string piece = "@" + users[who].screen_name;
      const long at = add_piece(t, cps, piece);
      if (at < 0) break;
      Entity e{Entity::Type::kMention, static_cast<size_t>(at), cps, users[who].screen_name, who,
               {}, {}};
      t.entities.push_back(std::move(e));
    }
    const uint64_t tag_roll = rng.uniform(100);
    const int hashtags = tag_roll < 40 ? 0 : tag_roll < 80 ? 1 : tag_roll < 95 ? 2 : 3;
    const int words = 3 + static_cast<int>(rng.uniform(16));
    const int tag_every = hashtags == 0 ? 1 << 30 : std::max(1, words / hashtags);
    int tags_added = 0;
    for (int w = 0; w < words; ++w) {
      if (add_piece(t, cps, lang.words[rng.uniform(lang.words.size())]) < 0) break;
      if (tags_added < hashtags && (w + 1) % tag_every == 0) {
        const std::string& tag = tags[tag_zipf.sample(rng)];
        const long at = add_piece(t, cps, "#" + tag);
        if (at < 0) break;
        t.entities.push_back({Entity::Type::kHashtag, static_cast<size_t>(at), cps, tag, 0, {}, {}});
        ++tags_added;
      }
      if (rng.uniform(12) == 0) (void)add_piece(t, cps, kEmoji[rng.uniform(kEmoji.size())]);
    }
    if (rng.uniform(5) == 0) {
      std::string code;
      for (int i = 0; i < 10; ++i) code += "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"[rng.uniform(57)];
      const std::string url = "https://t.co/" + code;
      const long at = add_piece(t, cps, url);
      if (at >= 0) {
        const std::string path = std::to_string(rng.uniform(1'000'000));
        t.entities.push_back({Entity::Type::kUrl, static_cast<size_t>(at), cps, url, 0,
                              "https://example.com/news/" + path, "example.com/news/" + path});
      }
    }
    t.retweets = static_cast<uint64_t>(users[t.author].followers / 2000) + rng.uniform(5);
    t.likes = t.retweets * 3 + rng.uniform(20);
    t.replies = rng.uniform(10);
    t.quotes = rng.uniform(3);
  }

  // A retweet of `orig` by `author` now: "RT @name: " + the original text, shortened to 140
  // code points with an ellipsis; entities shifted and kept when they stay whole.
  void make_retweet(int64_t ms, const Tweet& orig, Tweet& rt) {
    rt = Tweet{};
    rt.ms = ms;
    rt.id = next_id(ms);
    rt.author = user_zipf.sample(rng);
    rt.lang = orig.lang;
    rt.source = static_cast<int>(rng.uniform(kSources.size()));
    const User& ou = users[orig.author];
    const std::string prefix = "RT @" + ou.screen_name + ": ";
    const size_t prefix_cps = code_points(prefix);
    rt.text = prefix;
    rt.entities.push_back(
        {Entity::Type::kMention, 3, 3 + 1 + code_points(ou.screen_name), ou.screen_name,
         orig.author, {}, {}});
    const size_t orig_cps = code_points(orig.text);
    const size_t keep = std::min(orig_cps, 140 - std::min<size_t>(140, prefix_cps));
    rt.text.append(orig.text, 0, prefix_bytes(orig.text, keep));
    if (keep < orig_cps) rt.text += "…";
    for (const Entity& e : orig.entities) {
      if (e.end <= keep) {
        Entity s = e;
        s.start += prefix_cps;
        s.end += prefix_cps;
        rt.entities.push_back(std::move(s));
      }
    }
  }

  // A user's JSON never changes (the pool is made once), so each shape's is written once per
  // user and copied after that: a third of a tweet's escaping and number formatting.
  void append_v1_user(std::string& out, const User& u) {
    std::string& cached = v1_user_json[static_cast<size_t>(&u - users.data())];
    if (cached.empty()) write_v1_user(cached, u);
    out += cached;
  }
  void append_v2_user(std::string& out, const User& u) {
    std::string& cached = v2_user_json[static_cast<size_t>(&u - users.data())];
    if (cached.empty()) write_v2_user(cached, u);
    out += cached;
  }

  // ---- v1.1 ----
  void write_v1_user(std::string& out, const User& u) {
    out += "{\"id\":";
    append_u64(out, u.id);
    out += ",\"id_str\":";
    append_json_string(out, u.id_str);
    out += ",\"name\":";
    append_json_string(out, u.name);
    out += ",\"screen_name\":";
    append_json_string(out, u.screen_name);
    out += ",\"location\":";
    append_json_string(out, u.location);
    out += ",\"description\":";
    append_json_string(out, u.description);
    out += ",\"protected\":false,\"verified\":";
    out += u.verified ? "true" : "false";
    out += ",\"followers_count\":";
    append_u64(out, u.followers);
    out += ",\"friends_count\":";
    append_u64(out, u.friends);
    out += ",\"statuses_count\":";
    append_u64(out, u.statuses);
    out += ",\"created_at\":\"";
    append_v1_time(out, u.created_ms);
    out += "\",\"default_profile_image\":false}";
  }

  void append_indices(std::string& out, const Entity& e) {
    out += "\"indices\":[";
    append_u64(out, e.start);
    out += ',';
    append_u64(out, e.end);
    out += ']';
  }

  void append_v1_entities(std::string& out, const Tweet& t) {
    out += "{\"hashtags\":[";
    bool first = true;
    for (const Entity& e : t.entities) {
      if (e.type != Entity::Type::kHashtag) continue;
      if (!first) out += ',';
      first = false;
      out += "{\"text\":";
      append_json_string(out, e.text);
      out += ',';
      append_indices(out, e);
      out += '}';
    }
    out += "],\"urls\":[";
    first = true;
    for (const Entity& e : t.entities) {
      if (e.type != Entity::Type::kUrl) continue;
      if (!first) out += ',';
      first = false;
      out += "{\"url\":";
      append_json_string(out, e.text);
      out += ",\"expanded_url\":";
      append_json_string(out, e.expanded_url);
      out += ",\"display_url\":";
      append_json_string(out, e.display_url);
      out += ',';
      append_indices(out, e);
      out += '}';
    }
    out += "],\"user_mentions\":[";
    first = true;
    for (const Entity& e : t.entities) {
      if (e.type != Entity::Type::kMention) continue;
      if (!first) out += ',';
      first = false;
      const User& u = users[e.user];
      out += "{\"screen_name\":";
      append_json_string(out, u.screen_name);
      out += ",\"name\":";
      append_json_string(out, u.name);
      out += ",\"id\":";
      append_u64(out, u.id);
      out += ",\"id_str\":";
      append_json_string(out, u.id_str);
      out += ',';
      append_indices(out, e);
      out += '}';
    }
    out += "],\"symbols\":[]}";
  }

  // A v1.1 Tweet object. `nested` is the retweeted/quoted status, if any.
  void append_v1_tweet(std::string& out, const Tweet& t, const Tweet* retweeted,
                       const Tweet* quoted, bool streaming) {
    out += "{\"created_at\":\"";
    append_v1_time(out, t.ms);
    out += "\",\"id\":";
    append_u64(out, t.id);
    out += ",\"id_str\":\"";
    append_u64(out, t.id);
    out += "\",\"text\":";
    append_json_string(out, t.text);
    out += ",\"source\":";
    append_json_string(out, kSources[static_cast<size_t>(t.source)]);
    out += ",\"truncated\":false,\"in_reply_to_status_id\":null,\"in_reply_to_status_id_str\":null,"
           "\"in_reply_to_user_id\":null,\"in_reply_to_user_id_str\":null,"
           "\"in_reply_to_screen_name\":null,\"user\":";
    append_v1_user(out, users[t.author]);
    out += ",\"geo\":null,\"coordinates\":null,\"place\":null,\"contributors\":null";
    if (retweeted != nullptr) {
      out += ",\"retweeted_status\":";
      append_v1_tweet(out, *retweeted, nullptr, nullptr, false);
    }
    out += ",\"is_quote_status\":";
    out += quoted != nullptr ? "true" : "false";
    if (quoted != nullptr) {
      out += ",\"quoted_status_id\":";
      append_u64(out, quoted->id);
      out += ",\"quoted_status_id_str\":\"";
      append_u64(out, quoted->id);
      out += "\",\"quoted_status\":";
      append_v1_tweet(out, *quoted, nullptr, nullptr, false);
    }
    out += ",\"quote_count\":";
    append_u64(out, retweeted != nullptr || streaming ? 0 : t.quotes);
    out += ",\"reply_count\":";
    append_u64(out, streaming ? 0 : t.replies);
    out += ",\"retweet_count\":";
    append_u64(out, streaming ? 0 : t.retweets);
    out += ",\"favorite_count\":";
    append_u64(out, streaming ? 0 : t.likes);
    out += ",\"entities\":";
    append_v1_entities(out, t);
    out += ",\"favorited\":false,\"retweeted\":false";
    if (!t.entities.empty() &&
        std::any_of(t.entities.begin(), t.entities.end(),
                    [](const Entity& e) { return e.type == Entity::Type::kUrl; })) {
      out += ",\"possibly_sensitive\":false";
    }
    out += ",\"filter_level\":\"low\",\"lang\":";
    append_json_string(out, t.lang);
    if (streaming) {
      out += ",\"timestamp_ms\":\"";
      append_u64(out, static_cast<uint64_t>(t.ms));
      out += '"';
    }
    out += '}';
  }

  // ---- v2 ----
  void write_v2_user(std::string& out, const User& u) {
    out += "{\"id\":";
    append_json_string(out, u.id_str);
    out += ",\"name\":";
    append_json_string(out, u.name);
    out += ",\"username\":";
    append_json_string(out, u.screen_name);
    out += ",\"created_at\":\"";
    append_v2_time(out, u.created_ms);
    out += "\",\"verified\":";
    out += u.verified ? "true" : "false";
    out += ",\"location\":";
    append_json_string(out, u.location);
    out += ",\"public_metrics\":{\"followers_count\":";
    append_u64(out, u.followers);
    out += ",\"following_count\":";
    append_u64(out, u.friends);
    out += ",\"tweet_count\":";
    append_u64(out, u.statuses);
    out += ",\"listed_count\":0}}";
  }

  void append_v2_entities(std::string& out, const Tweet& t) {
    bool any[3] = {false, false, false};
    for (const Entity& e : t.entities) any[static_cast<int>(e.type)] = true;
    out += '{';
    bool first_group = true;
    const char* names[3] = {"hashtags", "mentions", "urls"};
    for (int g = 0; g < 3; ++g) {
      if (!any[g]) continue;
      if (!first_group) out += ',';
      first_group = false;
      out += '"';
      out += names[g];
      out += "\":[";
      bool first = true;
      for (const Entity& e : t.entities) {
        if (static_cast<int>(e.type) != g) continue;
        if (!first) out += ',';
        first = false;
        out += "{\"start\":";
        append_u64(out, e.start);
        out += ",\"end\":";
        append_u64(out, e.end);
        switch (e.type) {
          case Entity::Type::kHashtag:
            out += ",\"tag\":";
            append_json_string(out, e.text);
            break;
          case Entity::Type::kMention:
            out += ",\"username\":";
            append_json_string(out, users[e.user].screen_name);
            out += ",\"id\":";
            append_json_string(out, users[e.user].id_str);
            break;
          case Entity::Type::kUrl:
            out += ",\"url\":";
            append_json_string(out, e.text);
            out += ",\"expanded_url\":";
            append_json_string(out, e.expanded_url);
            out += ",\"display_url\":";
            append_json_string(out, e.display_url);
            break;
        }
        out += '}';
      }
      out += ']';
    }
    out += '}';
  }

  void append_v2_data(std::string& out, const Tweet& t, const char* ref_type, const Tweet* ref) {
    out += "{\"id\":\"";
    append_u64(out, t.id);
    out += "\",\"text\":";
    append_json_string(out, t.text);
    out += ",\"created_at\":\"";
    append_v2_time(out, t.ms);
    out += "\",\"author_id\":";
    append_json_string(out, users[t.author].id_str);
    out += ",\"conversation_id\":\"";
    append_u64(out, ref != nullptr ? ref->id : t.id);
    out += "\",\"lang\":";
    append_json_string(out, t.lang);
    out += ",\"source\":\"Twitter for iPhone\",\"possibly_sensitive\":false";
    out += ",\"public_metrics\":{\"retweet_count\":";
    append_u64(out, t.retweets);
    out += ",\"reply_count\":";
    append_u64(out, t.replies);
    out += ",\"like_count\":";
    append_u64(out, t.likes);
    out += ",\"quote_count\":";
    append_u64(out, t.quotes);
    out += '}';
    if (!t.entities.empty()) {
      out += ",\"entities\":";
      append_v2_entities(out, t);
    }
    if (ref != nullptr) {
      out += ",\"referenced_tweets\":[{\"type\":\"";
      out += ref_type;
      out += "\",\"id\":\"";
      append_u64(out, ref->id);
      out += "\"}]";
    }
    out += '}';
  }

  // A filtered-stream frame: data, includes (users, referenced tweets), matching_rules.
  void append_v2_frame(std::string& out, const Tweet& t, const char* ref_type, const Tweet* ref) {
    out += "{\"data\":";
    append_v2_data(out, t, ref_type, ref);
    out += ",\"includes\":{\"users\":[";
    append_v2_user(out, users[t.author]);
    if (ref != nullptr && ref->author != t.author) {
      out += ',';
      append_v2_user(out, users[ref->author]);
    }
    out += ']';
    if (ref != nullptr) {
      out += ",\"tweets\":[";
      append_v2_data(out, *ref, nullptr, nullptr);
      out += ']';
    }
    out += "},\"matching_rules\":[{\"id\":\"1166916266197536768\",\"tag\":\"sample\"}]}";
  }

  void fill_metadata(const Tweet& t, GeneratedEvent* out) {
    out->tweet_id = t.id;
    out->author_id = users[t.author].id_str;
    out->partition_key = out->author_id;
    out->lang = t.lang;
    for (const Entity& e : t.entities) {
      if (e.type == Entity::Type::kHashtag) out->hashtags.push_back(e.text);
      if (e.type == Entity::Type::kMention) out->mentions.push_back(e.text);
    }
  }

  void next(int64_t now_ms, GeneratedEvent* out) {
    out->data.clear();
    out->hashtags.clear();
    out->mentions.clear();
    out->lang.clear();
    out->author_id.clear();
    out->tweet_id = 0;
    out->kind = RecordKind::kValid;
    const bool v2 = options.shape == TweetShape::kV2 ||
                    (options.shape == TweetShape::kMixed && rng.uniform(2) == 1);
    if (options.malformed_share > 0 && rng.unit() < options.malformed_share) {
      // Kinds by weight: truncated 30, wrong types 25, missing fields 25, junk 15, oversized 5.
      const uint64_t k = rng.uniform(100);
      out->kind = k < 30   ? RecordKind::kTruncated
                  : k < 55 ? RecordKind::kWrongTypes
                  : k < 80 ? RecordKind::kMissingFields
                  : k < 95 ? RecordKind::kBinaryJunk
                           : RecordKind::kOversized;
    }
    if (out->kind == RecordKind::kBinaryJunk) {
      const size_t n = 16 + rng.uniform(240);
      for (size_t i = 0; i < n; ++i) {
        auto b = static_cast<char>(rng.uniform(256));
        if (b == '\n') b = '\x7f';
        if (i == 0 && (b == '{' || b == '[' || b == ' ')) b = '\x01';
        out->data += b;
      }
      out->partition_key = "junk-" + std::to_string(rng.uniform(1'000'000));
      return;
    }
    Tweet& t = scratch[0];
    make_tweet(now_ms, t);
    if (out->kind == RecordKind::kOversized) {
      // A tweet whose text no table item can hold (DynamoDB items are at most 400 KB).
      t.text.reserve(options.oversized_bytes + 16);
      while (t.text.size() < options.oversized_bytes) t.text += " lorem ipsum dolor sit amet";
    }
    const Tweet* ref = nullptr;
    const char* ref_type = nullptr;
    Tweet* shown = &t;
    if (out->kind == RecordKind::kValid || out->kind == RecordKind::kTruncated) {
      const double roll = rng.unit();
      if (roll < options.retweet_share) {
        make_retweet(now_ms, t, scratch[1]);
        // The original is older than the retweet.
        t.ms = now_ms - static_cast<int64_t>(rng.uniform(3'600'000));
        ref = &t;
        ref_type = "retweeted";
        shown = &scratch[1];
      } else if (roll < options.retweet_share + options.quote_share) {
        make_tweet(now_ms, scratch[1]);
        t.ms = now_ms - static_cast<int64_t>(rng.uniform(86'400'000));
        ref = &t;
        ref_type = "quoted";
        shown = &scratch[1];
      }
    }
    if (v2) {
      append_v2_frame(out->data, *shown, ref_type, ref);
    } else {
      const bool rt = ref_type != nullptr && ref_type[0] == 'r';
      append_v1_tweet(out->data, *shown, rt ? ref : nullptr, rt || ref == nullptr ? nullptr : ref,
                      true);
    }
    fill_metadata(*shown, out);
    switch (out->kind) {
      case RecordKind::kValid:
      case RecordKind::kOversized:
        break;
      case RecordKind::kTruncated: {
        // Cut anywhere before the closing brace: never valid JSON.
        const size_t cut = 1 + rng.uniform(out->data.size() - 1);
        out->data.resize(cut);
        break;
      }
      case RecordKind::kWrongTypes:
        out->data.clear();
        if (v2) {
          // Ids as a number and an object, the text as an array.
          out->data += "{\"data\":{\"id\":";
          append_u64(out->data, shown->id);
          out->data += ",\"text\":[\"not\",\"a\",\"string\"],\"created_at\":12345,"
                       "\"author_id\":{\"id\":\"";
          out->data += users[shown->author].id_str;
          out->data += "\"},\"lang\":false}}";
        } else {
          out->data += "{\"created_at\":12345,\"id\":\"tweet-";
          append_u64(out->data, shown->id);
          out->data += "\",\"id_str\":true,\"text\":{\"value\":\"x\"},\"user\":\"";
          out->data += users[shown->author].screen_name;
          out->data += "\",\"entities\":[],\"lang\":7}";
        }
        break;
      case RecordKind::kMissingFields:
        out->data.clear();
        if (v2) {
          out->data += "{\"data\":{\"text\":";
          append_json_string(out->data, shown->text);
          out->data += ",\"lang\":";
          append_json_string(out->data, shown->lang);
          out->data += ",\"conversation_id\":\"";
          append_u64(out->data, shown->id);
          out->data += "\"},\"matching_rules\":[]}";
        } else {
          out->data += "{\"created_at\":\"";
          append_v1_time(out->data, shown->ms);
          out->data += "\",\"text\":";
          append_json_string(out->data, shown->text);
          out->data += ",\"lang\":";
          append_json_string(out->data, shown->lang);
          out->data += ",\"in_reply_to_status_id_str\":\"";
          append_u64(out->data, shown->id);
          out->data += "\"}";
        }
        break;
      case RecordKind::kBinaryJunk:
        break;
    }
    if (out->kind != RecordKind::kValid) {
      out->hashtags.clear();
      out->mentions.clear();
    }
  }

  TweetOptions options;
  Rng rng;
  Zipf user_zipf;
  Zipf tag_zipf;
  std::vector<double> lang_cdf;
  std::vector<User> users;
  std::vector<std::string> v1_user_json, v2_user_json;  // per user: "" until first written
  std::vector<std::string> tags;
  int64_t last_id_ms = 0;
  int sequence = 0;
  Tweet scratch[2];
};

TweetGenerator::TweetGenerator(const TweetOptions& options)
    : impl_(std::make_unique<Impl>(options)) {}
TweetGenerator::~TweetGenerator() = default;

void TweetGenerator::next(int64_t now_ms, GeneratedEvent* out) { impl_->next(now_ms, out); }

const TweetOptions& TweetGenerator::options() const { return impl_->options; }

}  // namespace freshet::produce
