#include "engine/build/dockerfile_words.h"

#include <nlohmann/json.hpp>

namespace slipway {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

size_t SkipSpaces(std::string_view s, size_t i) {
  while (i < s.size() && IsSpace(s[i])) ++i;
  return i;
}

// One flag word starting at `i`: quotes removed, `\c` -> c. Returns the end.
size_t ReadFlagWord(std::string_view s, size_t i, std::string* word) {
  char quote = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (quote == 0 && IsSpace(c)) break;
    if (quote == 0 && (c == '\'' || c == '"')) {
      quote = c;
      continue;
    }
    if (quote != 0 && c == quote) {
      quote = 0;
      continue;
    }
    if (c == '\\') {
      if (i + 1 == s.size()) continue;  // a trailing backslash is dropped
      c = s[++i];
    }
    *word += c;
  }
  return i;
}

}  // namespace

std::vector<std::string> SplitRawWords(std::string_view text, char escape) {
  std::vector<std::string> words;
  std::string word;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote == 0 && IsSpace(c)) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
      continue;
    }
    if (c == escape && quote != '\'') {
      if (i + 1 == text.size()) break;
      word += c;
      word += text[++i];
      continue;
    }
    if (quote == 0 && (c == '\'' || c == '"')) {
      quote = c;
    } else if (c == quote) {
      quote = 0;
    }
    word += c;
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

FlagWords ExtractFlags(std::string_view text) {
  FlagWords out;
  size_t i = SkipSpaces(text, 0);
  while (i + 1 < text.size() && text[i] == '-' && text[i + 1] == '-') {
    std::string word;
    i = ReadFlagWord(text, i, &word);
    i = SkipSpaces(text, i);
    if (word == "--") break;
    out.flags.push_back(std::move(word));
  }
  out.rest = text.substr(i);
  return out;
}

JsonArray ParseJsonArray(std::string_view text, std::vector<std::string>* out) {
  size_t start = SkipSpaces(text, 0);
  if (start == text.size() || text[start] != '[') return JsonArray::kNotJson;
  nlohmann::json json =
      nlohmann::json::parse(text.begin() + start, text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_array()) return JsonArray::kNotJson;
  out->clear();
  for (const nlohmann::json& element : json) {
    if (!element.is_string()) return JsonArray::kNotStrings;
    out->push_back(element.get<std::string>());
  }
  return JsonArray::kStrings;
}

}  // namespace slipway
