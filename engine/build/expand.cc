#include "engine/build/expand.h"

#include <utility>

namespace slipway {
namespace {

constexpr int kEnd = -1;

bool IsSpace(int c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool IsDigit(int c) {
  return c >= '0' && c <= '9';
}
bool IsNameChar(int c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
// POSIX special parameters; a Dockerfile never sets them, but $? must not
// read as "$" followed by "?".
bool IsSpecialParam(int c) {
  return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' || c == '0';
}

// Shell pattern of ${NAME#pat} and friends: `*` any string, `?` any one
// character, escape + c the character c.
bool PatternMatches(std::string_view pat, std::string_view s, char escape) {
  size_t p = 0, i = 0;
  size_t star = std::string_view::npos, star_i = 0;
  while (i < s.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star = p++;
      star_i = i;
      continue;
    }
    if (p < pat.size()) {
      bool escaped = pat[p] == escape && p + 1 < pat.size();
      char pc = escaped ? pat[p + 1] : pat[p];
      if ((!escaped && pc == '?') || pc == s[i]) {
        p += escaped ? 2 : 1;
        ++i;
        continue;
      }
    }
    if (star == std::string_view::npos) return false;
    p = star + 1;  // let the last `*` take one more character
    i = ++star_i;
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

std::string TrimPrefix(const std::string& value, std::string_view pat, bool longest, char escape) {
  for (size_t k = 0; k <= value.size(); ++k) {
    size_t len = longest ? value.size() - k : k;
    if (PatternMatches(pat, std::string_view(value).substr(0, len), escape)) return value.substr(len);
  }
  return value;
}

std::string TrimSuffix(const std::string& value, std::string_view pat, bool longest, char escape) {
  for (size_t k = 0; k <= value.size(); ++k) {
    size_t start = longest ? k : value.size() - k;
    if (PatternMatches(pat, std::string_view(value).substr(start), escape)) return value.substr(0, start);
  }
  return value;
}

// Longest non-empty match starting at `i`, as an end offset, or npos.
size_t LongestMatchAt(std::string_view value, size_t i, std::string_view pat, char escape) {
  for (size_t j = value.size(); j > i; --j) {
    if (PatternMatches(pat, value.substr(i, j - i), escape)) return j;
  }
  return std::string_view::npos;
}

std::string ReplaceMatches(std::string_view value, std::string_view pat, const std::string& repl, bool all,
                           char escape) {
  std::string out;
  size_t i = 0;
  while (i < value.size()) {
    size_t end = LongestMatchAt(value, i, pat, escape);
    if (end == std::string_view::npos) {
      out += value[i++];
      continue;
    }
    out += repl;
    i = end;
    if (!all) break;
  }
  out += value.substr(i);
  return out;
}

// The words of ExpandWords: unquoted literal text and expanded values split
// at whitespace; quoted and escaped text never splits.
class WordSplitter {
 public:
  void AddChar(char c) {
    if (!IsSpace(static_cast<unsigned char>(c))) {
      word_ += c;
    } else if (!word_.empty()) {
      words_.push_back(std::move(word_));
      word_.clear();
    }
  }
  void AddSplit(std::string_view s) {
    for (char c : s) AddChar(c);
  }
  void AddRaw(std::string_view s) { word_ += s; }
  std::vector<std::string> Finish() {
    if (!word_.empty()) words_.push_back(std::move(word_));
    return std::move(words_);
  }

 private:
  std::string word_;
  std::vector<std::string> words_;
};

Status Syntax(std::string message) {
  return InvalidArgument(std::move(message));
}

class Lexer {
 public:
  Lexer(std::string_view text, const VarLookup& lookup, char escape, bool heredoc = false)
      : text_(text), lookup_(lookup), escape_(static_cast<unsigned char>(escape)), heredoc_(heredoc) {}

  // Reads to the end of the text, or through `stop` (consumed) when stop is
  // not kEnd. raw_escapes keeps escape characters in the result (for
  // patterns, whose escapes are interpreted later). `words` may be null.
  Result<std::string> Process(int stop, bool raw_escapes, WordSplitter* words);

 private:
  int Peek() const { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_]) : kEnd; }
  int Next() { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_++]) : kEnd; }

  Result<std::string> SingleQuoted();
  Result<std::string> DoubleQuoted(bool raw_escapes);
  Result<std::string> Dollar();
  Result<std::string> Braced();
  Result<std::string> Conditional(const std::string& name, int op, bool null_is_unset);
  Result<std::string> Trim(const std::string& name, int op);
  Result<std::string> Replace(const std::string& name);
  // The rest of a ${...} up to its `}` (or `stop`), with the error Docker gives
  // when the text ends first.
  Result<std::string> Until(int stop, bool raw_escapes, const char* missing);
  std::string Name();
  std::optional<std::string> Get(const std::string& name) const {
    return lookup_ ? lookup_(name) : std::nullopt;
  }

  std::string_view text_;
  const VarLookup& lookup_;
  int escape_;
  bool heredoc_;  // quotes are plain characters; only escape + `$` is an escape
  size_t pos_ = 0;
};

Result<std::string> Lexer::Process(int stop, bool raw_escapes, WordSplitter* words) {
  std::string result;
  while (Peek() != kEnd) {
    int c = Peek();
    if (stop != kEnd && c == stop) {
      Next();
      return result;
    }
    if (heredoc_ && c == escape_) {
      Next();
      if (Peek() == '$') c = Next();  // a literal `$`
      result += static_cast<char>(c);
      continue;
    }
    if (c == '$' || (!heredoc_ && (c == '\'' || c == '"'))) {
      Result<std::string> part = c == '$' ? Dollar() : c == '\'' ? SingleQuoted() : DoubleQuoted(raw_escapes);
      if (!part.ok()) return part.status();
      result += *part;
      if (words != nullptr) c == '$' ? words->AddSplit(*part) : words->AddRaw(*part);
      continue;
    }
    Next();
    if (c == escape_) {
      if (raw_escapes) {
        result += static_cast<char>(c);
        if (words != nullptr) words->AddRaw(std::string(1, static_cast<char>(c)));
      }
      if (Peek() == kEnd) break;  // a trailing escape is dropped
      c = Next();
      if (words != nullptr) words->AddRaw(std::string(1, static_cast<char>(c)));
    } else if (words != nullptr) {
      words->AddChar(static_cast<char>(c));
    }
    result += static_cast<char>(c);
  }
  if (stop != kEnd) {
    return Syntax(std::string("unexpected end of statement while looking for matching ") +
                  static_cast<char>(stop));
  }
  return result;
}

Result<std::string> Lexer::SingleQuoted() {
  Next();
  std::string result;
  for (int c = Next(); c != '\''; c = Next()) {
    if (c == kEnd) return Syntax("unexpected end of statement while looking for matching single-quote");
    result += static_cast<char>(c);
  }
  return result;
}

Result<std::string> Lexer::DoubleQuoted(bool raw_escapes) {
  Next();
  std::string result;
  while (true) {
    int c = Peek();
    if (c == kEnd) return Syntax("unexpected end of statement while looking for matching double-quote");
    if (c == '"') {
      Next();
      return result;
    }
    if (c == '$') {
      SLIPWAY_ASSIGN_OR_RETURN(std::string value, Dollar());
      result += value;
      continue;
    }
    Next();
    if (c == escape_) {
      int after = Peek();
      if (after == kEnd) continue;  // reported as the missing quote
      if (after == '"' || after == '$' || after == escape_) {
        if (raw_escapes) result += static_cast<char>(c);
        c = Next();
      }
    }
    result += static_cast<char>(c);
  }
}

std::string Lexer::Name() {
  std::string name;
  if (IsDigit(Peek())) {
    while (IsDigit(Peek())) name += static_cast<char>(Next());
    return name;
  }
  if (IsSpecialParam(Peek())) return std::string(1, static_cast<char>(Next()));
  while (IsNameChar(Peek())) name += static_cast<char>(Next());
  return name;
}

Result<std::string> Lexer::Dollar() {
  Next();
  if (Peek() != '{') {
    std::string name = Name();
    if (name.empty()) return std::string("$");
    return Get(name).value_or("");
  }
  Next();
  return Braced();
}

Result<std::string> Lexer::Braced() {
  int first = Peek();
  if (first == kEnd) return Syntax("syntax error: missing '}'");
  if (first == '{' || first == '}' || first == ':') return Syntax("syntax error: bad substitution");
  std::string name = Name();
  int op = Next();
  switch (op) {
    case kEnd: return Syntax("syntax error: missing '}'");
    case '}': return Get(name).value_or("");
    case '-':
    case '+':
    case '?': return Conditional(name, op, false);
    case '#':
    case '%': return Trim(name, op);
    case '/': return Replace(name);
    case ':': {
      int op2 = Next();
      if (op2 == '-' || op2 == '+' || op2 == '?') return Conditional(name, op2, true);
      if (op2 == kEnd) return Syntax("syntax error: missing '}'");
      return Syntax(std::string("unsupported modifier (:") + static_cast<char>(op2) + ") in substitution");
    }
    default:
      return Syntax(std::string("unsupported modifier (") + static_cast<char>(op) + ") in substitution");
  }
}

Result<std::string> Lexer::Until(int stop, bool raw_escapes, const char* missing) {
  Result<std::string> word = Process(stop, raw_escapes, nullptr);
  if (!word.ok() && Peek() == kEnd) return Syntax(missing);
  return word;
}

Result<std::string> Lexer::Conditional(const std::string& name, int op, bool null_is_unset) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string word, Until('}', false, "syntax error: missing '}'"));
  std::optional<std::string> value = Get(name);
  bool unset = !value || (null_is_unset && value->empty());
  if (op == '-') return unset ? word : *value;
  if (op == '+') return unset ? std::string() : word;
  if (!value) return Syntax(name + ": " + (word.empty() ? "is not allowed to be unset" : word));
  if (unset) return Syntax(name + ": " + (word.empty() ? "is not allowed to be empty" : word));
  return *value;
}

Result<std::string> Lexer::Trim(const std::string& name, int op) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string pat, Until('}', true, "syntax error: missing '}'"));
  bool longest = !pat.empty() && pat[0] == op;  // ## and %% take the longest match
  if (longest) pat.erase(0, 1);
  std::string value = Get(name).value_or("");
  char escape = static_cast<char>(escape_);
  return op == '#' ? TrimPrefix(value, pat, longest, escape) : TrimSuffix(value, pat, longest, escape);
}

Result<std::string> Lexer::Replace(const std::string& name) {
  bool all = Peek() == '/';
  if (all) Next();
  SLIPWAY_ASSIGN_OR_RETURN(std::string pat, Until('/', true, "syntax error: missing '/' in ${}"));
  SLIPWAY_ASSIGN_OR_RETURN(std::string repl, Until('}', false, "syntax error: missing '}'"));
  return ReplaceMatches(Get(name).value_or(""), pat, repl, all, static_cast<char>(escape_));
}

Status Failed(std::string_view word, const Status& why) {
  return InvalidArgument("failed to process \"" + std::string(word) + "\": " + why.message());
}

}  // namespace

Result<std::string> Expand(std::string_view word, const VarLookup& lookup, char escape) {
  Lexer lexer(word, lookup, escape);
  Result<std::string> result = lexer.Process(kEnd, false, nullptr);
  if (!result.ok()) return Failed(word, result.status());
  return result;
}

Result<std::string> ExpandHeredoc(std::string_view text, const VarLookup& lookup, char escape) {
  Lexer lexer(text, lookup, escape, /*heredoc=*/true);
  Result<std::string> result = lexer.Process(kEnd, false, nullptr);
  if (!result.ok()) return InvalidArgument("failed to expand the heredoc: " + result.status().message());
  return result;
}

Result<std::vector<std::string>> ExpandWords(std::string_view text, const VarLookup& lookup, char escape) {
  Lexer lexer(text, lookup, escape);
  WordSplitter words;
  Result<std::string> result = lexer.Process(kEnd, false, &words);
  if (!result.ok()) return Failed(text, result.status());
  return words.Finish();
}

}  // namespace slipway
