// Word-level lexing of one Dockerfile instruction, as Docker's parser does
// it before any variable is expanded.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace slipway {

// Splits at whitespace that is neither quoted nor escaped. Quotes and escapes
// stay in the words (Expand removes them later); only an escape at the very
// end of the text is dropped. `A="x y" B=1` -> {`A="x y"`, `B=1`}.
std::vector<std::string> SplitRawWords(std::string_view text, char escape);

// The `--name[=value]` words at the start of an instruction's arguments, with
// quotes and backslash escapes removed (as Docker does for flags), and the
// text after them. A `--` word ends the flags and is dropped.
struct FlagWords {
  std::vector<std::string> flags;  // "--from=build", "--link"
  std::string_view rest;           // left-trimmed
};
FlagWords ExtractFlags(std::string_view text);

// The JSON exec form: text that starts with `[` and parses as a JSON array.
enum class JsonArray {
  kNotJson,     // shell form
  kStrings,     // exec form; *out holds the strings
  kNotStrings,  // a JSON array with a non-string element: an error in Docker
};
JsonArray ParseJsonArray(std::string_view text, std::vector<std::string>* out);

}  // namespace slipway
