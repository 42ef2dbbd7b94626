// Byte encodings of keys and items, as stored in RocksDB. docs/format.md ("Tables") draws
// both; the constants here are the source of truth.
//
// Key component (one key attribute value), memcmp order == DynamoDB's order for the type:
//   S, B:  the bytes with every 0x00 written as 0x00 0xFF, then the terminator 0x00 0x01
//          (prefix-free, so components concatenate without ambiguity)
//   N:     Decimal::encode_key (number.h), self-delimiting
//
// RocksDB keys (all integers big-endian):
//   'C' name                                         catalog: table descriptor
//   'D' u32 table_id  u16 bucket  pk [sk]             item: encoded item value
//   'I' u32 table_id  u8 index_id  u16 bucket  ipk [isk]  pk [sk]   index entry
//   'S' u32 table_id [u8 index_id]                   table statistics (exact after a clean close)
//   'M' "stats_clean"                                empty: the 'S' records are exact
//   'M' "next_table_id"                              u32, the next table id
// bucket = CRC32C(pk) >> 16 spreads partitions like DynamoDB's hash ordering and gives
// parallel scans contiguous ranges (segment s of n: buckets [s*65536/n, (s+1)*65536/n)).
//
// Item value (version 1):
//   u8 version (=1) | varint attribute_count | attribute* | u32 little-endian CRC32C of all
//   bytes before it
//   attribute = varint name_len | name | value
//   value     = u8 Type | payload
//     S, N, B:      varint len | bytes   (N as canonical decimal text)
//     BOOL:         u8 0/1
//     NULL:         nothing
//     M:            varint count | (varint name_len | name | value)*
//     L:            varint count | value*
//     SS, NS, BS:   varint count | (varint len | bytes)*
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/result.h"
#include "freshet/table/value.h"

namespace freshet::table {

constexpr uint8_t kItemFormatVersion = 1;
constexpr char kCatalogPrefix = 'C';
constexpr char kItemPrefix = 'D';
constexpr char kIndexPrefix = 'I';
constexpr char kStatsPrefix = 'S';
constexpr char kMetaPrefix = 'M';
constexpr char kCollectionPrefix = 'L';  // item collection sizes (tables with an LSI)
// Present only between a clean close and the next open: the 'S' statistics records are
// exact. Without it open() recounts them from the items (docs/format.md).
constexpr const char* kStatsCleanKey = "Mstats_clean";

// Appends one key component. REQUIRES v is S, N or B (N canonical).
void encode_key_component(const Value& v, std::string& out);
// Reads one component of type t from the front of in. False if malformed.
bool decode_key_component(std::string_view& in, Type t, Value& out);

uint16_t key_bucket(std::string_view encoded_pk);

void append_u32_be(uint32_t v, std::string& out);
void append_u16_be(uint16_t v, std::string& out);
uint32_t read_u32_be(const char* p);
uint16_t read_u16_be(const char* p);

std::string encode_item(const Item& item);
// encode_item of the item made of item's attributes with these names (in any order, repeats
// allowed; names the item lacks are left out), without building that item: the value of an
// index entry with a KEYS_ONLY or INCLUDE projection.
std::string encode_item_subset(const Item& item, std::vector<std::string_view> names);
// Fails with kCorruption on a bad CRC, version, or structure.
Result<Item> decode_item(std::string_view bytes);

// What walk_item reports of an encoded item, in its stored (sorted) order, without building
// it: hot read paths write their answers straight from the stored bytes with one. The
// string_views point into the walked bytes.
class ItemVisitor {
 public:
  virtual ~ItemVisitor() = default;
  // A member name (of the item or of an M value), before its value.
  virtual void name(std::string_view n) = 0;
  // An S, N or B value (B as its raw bytes, N as its stored text).
  virtual void scalar(Type t, std::string_view bytes) = 0;
  virtual void boolean(bool b) = 0;
  virtual void null() = 0;
  // An M, L, SS, NS or BS value: begin, its members (name + value for M, values for L,
  // set_member for sets), end.
  virtual void begin(Type t) = 0;
  virtual void set_member(Type set_type, std::string_view bytes) = 0;
  virtual void end(Type t) = 0;
};

// Checks an encoded item as decode_item does (the same kCorruption errors), reports its
// attributes to visitor when it is not null, and sets *size (when not null) to its
// item_size (value.h: a parse per number, so only when asked). A corrupt item may have been
// reported in part before the error.
Status walk_item(std::string_view bytes, ItemVisitor* visitor, size_t* size);

}  // namespace freshet::table
