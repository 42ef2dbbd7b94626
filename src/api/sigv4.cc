#include "freshet/api/sigv4.h"

#include <array>

namespace freshet::api {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Error incomplete(std::string msg) { return Error(ErrorCode::kInvalidArgument, std::move(msg)); }

}  // namespace

std::string sigv4_header_problems(std::string_view header, bool has_date) {
  bool credential = false, signature = false, signed_headers = false;
  std::string_view rest = header;
  bool first = true;
  while (!rest.empty()) {
    const size_t cut = rest.find_first_of(", ");
    std::string_view item = rest.substr(0, cut);
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
    if (item.empty()) continue;
    if (first) {  // the algorithm, whatever it is
      first = false;
      continue;
    }
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq + 1 == item.size()) continue;
    const std::string_view key = item.substr(0, eq);
    credential = credential || key == "Credential";
    signature = signature || key == "Signature";
    signed_headers = signed_headers || key == "SignedHeaders";
  }
  std::string msg;
  if (!credential) msg += "Authorization header requires 'Credential' parameter. ";
  if (!signature) msg += "Authorization header requires 'Signature' parameter. ";
  if (!signed_headers) msg += "Authorization header requires 'SignedHeaders' parameter. ";
  if (!has_date) {
    msg += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ";
  }
  if (!msg.empty()) msg += "Authorization=" + std::string(header);
  return msg;
}

Status parse_sigv4_credential(std::string_view credential, SigV4Auth& out) {
  std::array<std::string_view, 5> parts;
  size_t n = 0;
  std::string_view rest = credential;
  while (true) {
    size_t slash = rest.find('/');
    if (n == parts.size()) {
      n = parts.size() + 1;  // too many
      break;
    }
    parts[n++] = rest.substr(0, slash);
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (n != 5) {
    return incomplete(
        "Credential must have exactly 5 slash-delimited elements, e.g. "
        "keyid/date/region/service/term, got '" +
        std::string(credential) + "'");
  }
  if (parts[4] != "aws4_request") {
    return incomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '" +
                      std::string(parts[4]) + "'.");
  }
  if (parts[0].empty() || parts[1].empty() || parts[2].empty() || parts[3].empty()) {
    return incomplete("Credential should be scoped to a valid region, not '" +
                      std::string(parts[2]) + "'. ");
  }
  out.access_key_id = parts[0];
  out.date = parts[1];
  out.region = parts[2];
  out.service = parts[3];
  return Status();
}

Result<SigV4Auth> parse_sigv4_authorization(std::string_view header) {
  std::string_view h = trim(header);
  size_t sp = h.find(' ');
  std::string_view algorithm = h.substr(0, sp);
  std::string_view params = sp == std::string_view::npos ? std::string_view() : h.substr(sp + 1);
  if (algorithm != "AWS4-HMAC-SHA256") {
    return incomplete("Unsupported AWS 'algorithm': '" + std::string(algorithm) + "'");
  }
  std::string_view credential, signed_headers, signature;
  bool have_credential = false, have_signed = false, have_signature = false;
  while (!params.empty()) {
    size_t comma = params.find(',');
    std::string_view item = trim(params.substr(0, comma));
    params = comma == std::string_view::npos ? std::string_view() : params.substr(comma + 1);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = trim(item.substr(0, eq));
    std::string_view value = trim(item.substr(eq + 1));
    if (key == "Credential") {
      credential = value;
      have_credential = !value.empty();
    } else if (key == "SignedHeaders") {
      signed_headers = value;
      have_signed = !value.empty();
    } else if (key == "Signature") {
      signature = value;
      have_signature = !value.empty();
    }
  }
  std::string msg;
  if (!have_credential) msg += "Authorization header requires 'Credential' parameter. ";
  if (!have_signature) msg += "Authorization header requires 'Signature' parameter. ";
  if (!have_signed) msg += "Authorization header requires 'SignedHeaders' parameter. ";
  if (!msg.empty()) return incomplete(msg + "Authorization=" + std::string(header));

  SigV4Auth auth;
  FRESHET_RETURN_IF_ERROR(parse_sigv4_credential(credential, auth));
  while (!signed_headers.empty()) {
    size_t semi = signed_headers.find(';');
    auth.signed_headers.emplace_back(signed_headers.substr(0, semi));
    signed_headers =
        semi == std::string_view::npos ? std::string_view() : signed_headers.substr(semi + 1);
  }
  auth.signature = signature;
  return auth;
}

}  // namespace freshet::api
