#include "engine/oci/reference.h"

#include <cctype>

namespace slipway {
namespace {

constexpr size_t kMaxNameLength = 255;  // registry/repository, as distribution limits it
constexpr std::string_view kLibraryPrefix = "library/";

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool IsAlnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
bool IsWordChar(char c) {
  return IsAlnum(c) || c == '_';
}

// Consumes a run of [a-z0-9]; false if there was none.
bool ConsumeAlnum(std::string_view s, size_t& i) {
  size_t start = i;
  while (i < s.size() && IsLowerAlnum(s[i])) ++i;
  return i > start;
}

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+
bool IsValidPathComponent(std::string_view s) {
  size_t i = 0;
  if (!ConsumeAlnum(s, i)) return false;
  while (i < s.size()) {
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      i += (i + 1 < s.size() && s[i + 1] == '_') ? 2 : 1;
    } else if (s[i] == '-') {
      while (i < s.size() && s[i] == '-') ++i;
    } else {
      return false;
    }
    if (!ConsumeAlnum(s, i)) return false;
  }
  return true;
}

// domain-component := [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]
bool IsValidDomainComponent(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsValidPort(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return value >= 1 && value <= 65535;
}

Status ValidateDomain(std::string_view domain) {
  auto bad = [&] { return InvalidArgument("invalid registry host \"" + std::string(domain) + "\""); };
  std::string_view host = domain;
  std::string_view port;
  if (host.starts_with('[')) {  // [IPv6]:port
    size_t close = host.find(']');
    if (close == std::string_view::npos || close < 3) return bad();
    for (char c : host.substr(1, close - 1)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':') return bad();
    }
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad();
      port = rest.substr(1);
      if (!IsValidPort(port)) return bad();
    }
    return Status::Ok();
  }
  if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
    if (!IsValidPort(port)) return bad();
  }
  while (true) {
    size_t dot = host.find('.');
    if (!IsValidDomainComponent(host.substr(0, dot))) return bad();
    if (dot == std::string_view::npos) break;
    host = host.substr(dot + 1);
  }
  return Status::Ok();
}

// Docker's rule: the first component names a registry only if it looks like a
// host, so "user/app" stays a Docker Hub repository.
bool LooksLikeHost(std::string_view component) {
  return component.find_first_of(".:") != std::string_view::npos || component == "localhost" ||
         component.starts_with('[');
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

bool IsValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128 || !IsWordChar(tag.front())) return false;
  for (char c : tag) {
    if (!IsWordChar(c) && c != '.' && c != '-') return false;
  }
  return true;
}

Status ValidateRepository(std::string_view repository) {
  std::string quoted = "\"" + std::string(repository.substr(0, kMaxNameLength + 1)) + "\"";
  if (repository.empty()) return InvalidArgument("empty repository name");
  if (repository.size() > kMaxNameLength) {
    return InvalidArgument("repository name " + quoted + " is longer than 255 characters");
  }
  std::string_view rest = repository;
  while (true) {
    size_t slash = rest.find('/');
    std::string_view component = rest.substr(0, slash);
    for (char c : component) {
      if (std::isupper(static_cast<unsigned char>(c))) {
        return InvalidArgument("repository name " + quoted + " must be lowercase");
      }
    }
    if (!IsValidPathComponent(component)) {
      return InvalidArgument("invalid repository name " + quoted + ": component \"" + std::string(component) +
                             "\" must be [a-z0-9] separated by '.', '_', '__' or '-'");
    }
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return Status::Ok();
}

Result<Reference> ParseReference(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("invalid image reference \"" + std::string(text.substr(0, 300)) + "\": " + why);
  };
  if (text.empty()) return InvalidArgument("empty image reference");
  Reference ref;
  std::string_view name = text;
  if (size_t at = name.find('@'); at != std::string_view::npos) {
    std::string_view digest = name.substr(at + 1);
    if (!digest.starts_with("sha256:")) return bad("only sha256 digests are supported");
    auto parsed = Digest::Parse(digest);
    if (!parsed.ok()) return bad("digest must be sha256:<64 lowercase hex digits>");
    ref.digest = *parsed;
    name = name.substr(0, at);
  }
  size_t last_slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    ref.tag = std::string(name.substr(colon + 1));
    name = name.substr(0, colon);
    if (!IsValidTag(ref.tag)) {
      return bad("tag \"" + ref.tag + "\" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    }
  }
  if (name.empty()) return bad("missing repository name");

  std::string_view path = name;
  size_t first_slash = name.find('/');
  if (first_slash != std::string_view::npos && LooksLikeHost(name.substr(0, first_slash))) {
    ref.registry = std::string(name.substr(0, first_slash));
    path = name.substr(first_slash + 1);
    if (Status s = ValidateDomain(ref.registry); !s.ok()) return bad(s.message());
    if (ref.registry == "index.docker.io") ref.registry = kDockerHubRegistry;
  } else {
    ref.registry = kDockerHubRegistry;
    if (IsHex64(path)) return bad("a 64-character hex string is an image id, not a repository name");
  }
  ref.repository = std::string(path);
  if (ref.registry == kDockerHubRegistry && path.find('/') == std::string_view::npos) {
    ref.repository = std::string(kLibraryPrefix) + ref.repository;
  }
  if (Status s = ValidateRepository(ref.repository); !s.ok()) return bad(s.message());
  if (ref.registry.size() + 1 + ref.repository.size() > kMaxNameLength) {
    return bad("name is longer than 255 characters");
  }
  if (ref.tag.empty() && !ref.digest) ref.tag = "latest";
  return ref;
}

std::string Reference::Name() const {
  return registry + "/" + repository;
}

std::string Reference::TagOrDigest() const {
  return digest ? digest->str() : tag;
}

std::string Reference::str() const {
  std::string out = Name();
  if (!tag.empty()) out += ":" + tag;
  if (digest) out += "@" + digest->str();
  return out;
}

std::string Reference::Familiar() const {
  std::string out = Name();
  if (registry == kDockerHubRegistry) {
    out = repository;
    std::string_view rest = std::string_view(repository).substr(kLibraryPrefix.size());
    if (repository.starts_with(kLibraryPrefix) && rest.find('/') == std::string_view::npos) {
      out = std::string(rest);
    }
  }
  if (!tag.empty()) out += ":" + tag;
  if (digest) out += "@" + digest->str();
  return out;
}

}  // namespace slipway
