#include "engine/build/dockerignore.h"

#include <utility>

namespace slipway {

bool DockerIgnore::Token::Accepts(char ch) const {
  switch (kind) {
    case Kind::kLiteral: return ch == c;
    case Kind::kAnyChar:
    case Kind::kStar: return ch != '/';
    case Kind::kDirs:
    case Kind::kAnything: return true;
    case Kind::kClass: {
      bool in = false;
      for (const auto& [lo, hi] : ranges) in = in || (ch >= lo && ch <= hi);
      return in != negated;
    }
  }
  return false;
}

namespace {

using Token = DockerIgnore::Token;
using Kind = Token::Kind;

std::string_view Trim(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Go's filepath.Clean, for '/'-separated paths.
std::string CleanPath(std::string_view path) {
  bool rooted = !path.empty() && path[0] == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(i, slash - i);
    i = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(part);
      }
      continue;
    }
    parts.push_back(part);
  }
  std::string out = rooted ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out += '/';
    out += parts[k];
  }
  return out.empty() ? "." : out;
}

// A path as the matcher sees it: cleaned, relative, "" for the root.
std::string NormalizePath(std::string_view path) {
  std::string clean = CleanPath(path);
  while (!clean.empty() && clean[0] == '/') clean.erase(0, 1);
  return clean == "." ? "" : clean;
}

// One class character at p[i] (`\c` escapes), advancing i; false if malformed.
bool ClassChar(std::string_view p, size_t& i, char* out) {
  if (i >= p.size() || p[i] == '-' || p[i] == ']') return false;
  if (p[i] == '\\') {
    if (++i >= p.size()) return false;
  }
  *out = p[i++];
  return true;
}

// `[...]` starting after the '[' at p[i], as Go's filepath.Match reads it.
bool CompileClass(std::string_view p, size_t& i, Token* token) {
  token->kind = Kind::kClass;
  if (i < p.size() && p[i] == '^') {
    token->negated = true;
    ++i;
  }
  while (true) {
    if (i < p.size() && p[i] == ']' && !token->ranges.empty()) {
      ++i;
      return true;
    }
    char lo, hi;
    if (!ClassChar(p, i, &lo)) return false;
    hi = lo;
    if (i < p.size() && p[i] == '-') {
      ++i;
      if (!ClassChar(p, i, &hi)) return false;
    }
    token->ranges.emplace_back(lo, hi);
  }
}

// The pattern as tokens, following patternmatcher's regexp translation.
Result<std::vector<Token>> Compile(std::string_view p) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < p.size()) {
    char ch = p[i++];
    Token token;
    if (ch == '*' && i < p.size() && p[i] == '*') {
      ++i;
      if (i < p.size() && p[i] == '/') ++i;  // `**/` is `**`
      token.kind = i == p.size() ? Kind::kAnything : Kind::kDirs;
    } else if (ch == '*') {
      token.kind = Kind::kStar;
    } else if (ch == '?') {
      token.kind = Kind::kAnyChar;
    } else if (ch == '[') {
      if (!CompileClass(p, i, &token)) return InvalidArgument("syntax error in pattern");
    } else if (ch == '\\') {
      if (i == p.size()) return InvalidArgument("syntax error in pattern");
      token.c = p[i++];
    } else {
      token.c = ch;
    }
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// NFA over tokens. State 2*k: about to match token k; state 2*k+1: inside
// the `.*` of a kDirs token k, waiting for the '/' that ends it.
class Matcher {
 public:
  explicit Matcher(const std::vector<Token>& tokens) : tokens_(tokens), states_(2 * (tokens.size() + 1)) {
    Add(0);
  }

  void Feed(char ch) {
    std::vector<char> next(states_.size());
    states_.swap(next);
    for (size_t k = 0; k < tokens_.size(); ++k) {
      const Token& t = tokens_[k];
      if (next[2 * k + 1] && t.kind == Kind::kDirs) {
        Add(2 * k + 1);
        if (ch == '/') Add(2 * (k + 1));
      }
      if (!next[2 * k] || !t.Accepts(ch)) continue;
      if (t.kind == Kind::kStar || t.kind == Kind::kAnything) {
        Add(2 * k);
      } else if (t.kind == Kind::kDirs) {
        Add(2 * k + 1);
        if (ch == '/') Add(2 * (k + 1));
      } else {
        Add(2 * (k + 1));
      }
    }
  }

  bool Matched() const { return states_[2 * tokens_.size()]; }
  bool Alive() const {
    for (char s : states_) {
      if (s) return true;
    }
    return false;
  }

 private:
  // Enters a state and everything reachable from it without input.
  void Add(size_t state) {
    if (states_[state]) return;
    states_[state] = 1;
    size_t k = state / 2;
    if (state % 2 == 0 && k < tokens_.size()) {
      Kind kind = tokens_[k].kind;
      if (kind == Kind::kStar || kind == Kind::kDirs || kind == Kind::kAnything) Add(2 * (k + 1));
    }
  }

  const std::vector<Token>& tokens_;
  std::vector<char> states_;
};

bool Matches(const std::vector<Token>& tokens, std::string_view path) {
  Matcher m(tokens);
  for (char ch : path) m.Feed(ch);
  return m.Matched();
}

// The path itself or one of its parent directories matches.
bool MatchesOrParent(const std::vector<Token>& tokens, std::string_view path) {
  for (size_t slash = path.find('/'); slash != std::string_view::npos; slash = path.find('/', slash + 1)) {
    if (Matches(tokens, path.substr(0, slash))) return true;
  }
  return Matches(tokens, path);
}

// Some path strictly below `dir` could match.
bool CouldMatchBelow(const std::vector<Token>& tokens, std::string_view dir) {
  Matcher m(tokens);
  for (char ch : dir) m.Feed(ch);
  m.Feed('/');
  return m.Alive();
}

}  // namespace

Result<DockerIgnore> DockerIgnore::Parse(std::string_view text, const std::string& filename) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  DockerIgnore out;
  int number = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    if (!line.empty() && line[0] == '#') continue;
    std::string_view pattern = Trim(line);
    if (pattern.empty()) continue;
    Pattern p{"", pattern[0] == '!', number};
    if (p.exception) pattern = Trim(pattern.substr(1));
    auto error = [&](const std::string& why) {
      return InvalidArgument(filename + ":" + std::to_string(number) + ": " + why + ": \"" +
                             std::string(line) + "\"");
    };
    if (pattern.empty()) return error("illegal exclusion pattern");
    p.text = CleanPath(pattern);
    if (p.text.size() > 1 && p.text[0] == '/') p.text.erase(0, 1);
    Result<std::vector<Token>> tokens = Compile(p.text);
    if (!tokens.ok()) return error(tokens.status().message());
    out.patterns_.push_back(std::move(p));
    out.compiled_.push_back(std::move(tokens).value());
  }
  return out;
}

bool DockerIgnore::Excluded(std::string_view relative_path) const {
  std::string path = NormalizePath(relative_path);
  if (path.empty()) return false;
  bool excluded = false;
  for (size_t i = 0; i < patterns_.size(); ++i) {
    // Only a pattern that would change the answer needs to be tried; the
    // result is the same as "the last matching pattern wins".
    if (patterns_[i].exception != excluded) continue;
    if (MatchesOrParent(compiled_[i], path)) excluded = !patterns_[i].exception;
  }
  return excluded;
}

bool DockerIgnore::MayReinclude(std::string_view relative_dir) const {
  std::string dir = NormalizePath(relative_dir);
  for (size_t i = 0; i < patterns_.size(); ++i) {
    if (!patterns_[i].exception) continue;
    if (dir.empty() || MatchesOrParent(compiled_[i], dir) || CouldMatchBelow(compiled_[i], dir)) return true;
  }
  return false;
}

}  // namespace slipway
