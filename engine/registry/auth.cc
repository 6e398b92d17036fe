#include "engine/registry/auth.h"

#include <cctype>

#include "engine/base/ascii.h"

namespace slipway {
namespace {

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void SkipSpace(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
}

std::string_view ReadToken(std::string_view s, size_t& i) {
  size_t start = i;
  while (i < s.size() && IsTokenChar(s[i])) ++i;
  return s.substr(start, i - start);
}

// A quoted-string starting at s[i] == '"'; false if it is not closed.
bool ReadQuoted(std::string_view s, size_t& i, std::string& out) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      out.push_back(s[++i]);
    } else if (s[i] == '"') {
      ++i;
      return true;
    } else {
      out.push_back(s[i]);
    }
  }
  return false;
}

}  // namespace

std::string AuthChallenge::Param(const std::string& key) const {
  auto it = params.find(key);
  return it == params.end() ? "" : it->second;
}

Result<AuthChallenge> ParseAuthChallenge(std::string_view header) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("parse WWW-Authenticate \"" + std::string(header.substr(0, 200)) + "\": " + why);
  };
  AuthChallenge challenge;
  size_t i = 0;
  SkipSpace(header, i);
  challenge.scheme = Lower(ReadToken(header, i));
  if (challenge.scheme.empty()) return bad("no auth scheme");
  while (true) {
    SkipSpace(header, i);
    while (i < header.size() && header[i] == ',') ++i, SkipSpace(header, i);
    if (i >= header.size()) break;
    std::string key = Lower(ReadToken(header, i));
    SkipSpace(header, i);
    // A token not followed by '=' starts the next challenge (or is a token68
    // credential); either way this challenge's parameters end here.
    if (key.empty() || i >= header.size() || header[i] != '=') break;
    ++i;
    SkipSpace(header, i);
    std::string value;
    if (i < header.size() && header[i] == '"') {
      if (!ReadQuoted(header, i, value)) return bad("unterminated quoted value of " + key);
    } else {
      value = std::string(ReadToken(header, i));
    }
    challenge.params.emplace(std::move(key), std::move(value));
  }
  return challenge;
}

std::string RepositoryScope(std::string_view repository, std::string_view actions) {
  return "repository:" + std::string(repository) + ":" + std::string(actions);
}

}  // namespace slipway
