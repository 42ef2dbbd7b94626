// The little XML S3 needs: escaping for responses and a bounded parser for the two request
// bodies that carry XML (DeleteObjects, CompleteMultipartUpload).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/result.h"

namespace freshet::api::s3 {

// Escapes & < > " ' for text and attribute values.
std::string xml_escape(std::string_view s);

struct XmlElement {
  std::string name;  // local name (any "prefix:" removed)
  std::string text;  // concatenated character data, entities decoded
  std::vector<XmlElement> children;
  // The first child with this name, or null.
  const XmlElement* child(std::string_view n) const;
};

// Parses a document of at most 2 MiB and depth 16. Attributes are skipped; comments,
// processing instructions and the XML declaration are ignored; DOCTYPE is refused.
Result<XmlElement> parse_xml(std::string_view doc);

}  // namespace freshet::api::s3
