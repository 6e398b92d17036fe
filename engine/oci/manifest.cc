#include "engine/oci/manifest.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace slipway {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
namespace mt = media_type;

bool OneOf(std::string_view type, std::initializer_list<std::string_view> types) {
  for (std::string_view t : types) {
    if (type == t) return true;
  }
  return false;
}

// "application/json; charset=utf-8" -> "application/json".
std::string_view BareContentType(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && content_type.back() == ' ') content_type.remove_suffix(1);
  while (!content_type.empty() && content_type.front() == ' ') content_type.remove_prefix(1);
  return content_type;
}

bool IsSchema1(std::string_view type) {
  return OneOf(type, {mt::kDockerSchema1, mt::kDockerSchema1Signed});
}

Status Schema1Error() {
  return InvalidArgument(
      "Docker schema 1 manifests are not supported (deprecated; push the image again with a current client)");
}

Result<json> ParseJsonObject(std::string_view body, const char* what) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument(std::string(what) + ": invalid JSON");
  if (!doc.is_object()) return InvalidArgument(std::string(what) + ": not a JSON object");
  return doc;
}

Result<std::string> RequiredString(const json& obj, const std::string& where, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end()) return InvalidArgument(where + field + ": missing");
  if (!it->is_string()) return InvalidArgument(where + field + ": not a string");
  return it->get<std::string>();
}

Result<std::string> OptionalString(const json& obj, const std::string& where, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) return InvalidArgument(where + field + ": not a string");
  return it->get<std::string>();
}

Result<std::map<std::string, std::string>> ParseAnnotations(const json& obj, const std::string& where) {
  std::map<std::string, std::string> out;
  auto it = obj.find("annotations");
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_object()) return InvalidArgument(where + "annotations: not an object");
  for (const auto& [key, value] : it->items()) {
    if (!value.is_string()) return InvalidArgument(where + "annotations[\"" + key + "\"]: not a string");
    out[key] = value.get<std::string>();
  }
  return out;
}

Status CheckSchemaVersion(const json& doc) {
  auto it = doc.find("schemaVersion");
  if (it == doc.end()) return InvalidArgument("schemaVersion: missing");
  if (!it->is_number_integer()) return InvalidArgument("schemaVersion: not an integer");
  if (it->get<int64_t>() == 1) return Schema1Error();
  if (it->get<int64_t>() != 2) return InvalidArgument("schemaVersion: " + it->dump() + ", want 2");
  return Status::Ok();
}

Status ParsePlatform(const json& obj, const std::string& where, Descriptor& d) {
  auto it = obj.find("platform");
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_object()) return InvalidArgument(where + "platform: not an object");
  std::string at = where + "platform.";
  SLIPWAY_ASSIGN_OR_RETURN(d.os, RequiredString(*it, at, "os"));
  SLIPWAY_ASSIGN_OR_RETURN(d.architecture, RequiredString(*it, at, "architecture"));
  SLIPWAY_ASSIGN_OR_RETURN(d.variant, OptionalString(*it, at, "variant"));
  return Status::Ok();
}

// `where` is the field path with a trailing dot, e.g. "layers[0].".
Result<Descriptor> ParseDescriptor(const json& obj, const std::string& where) {
  std::string name = where.substr(0, where.size() - 1);
  if (!obj.is_object()) return InvalidArgument(name + ": not an object");
  Descriptor d;
  SLIPWAY_ASSIGN_OR_RETURN(d.media_type, RequiredString(obj, where, "mediaType"));
  SLIPWAY_ASSIGN_OR_RETURN(std::string digest, RequiredString(obj, where, "digest"));
  auto parsed = Digest::Parse(digest);
  if (!parsed.ok()) return parsed.status().Wrap(where + "digest");
  d.digest = *parsed;
  auto size = obj.find("size");
  if (size == obj.end()) return InvalidArgument(where + "size: missing");
  if (!size->is_number_integer() || size->get<int64_t>() < 0) {
    return InvalidArgument(where + "size: not a non-negative integer");
  }
  d.size = size->get<int64_t>();
  if (auto urls = obj.find("urls"); urls != obj.end() && !urls->is_null()) {
    if (!urls->is_array()) return InvalidArgument(where + "urls: not an array");
    for (const auto& url : *urls) {
      if (!url.is_string()) return InvalidArgument(where + "urls: not an array of strings");
      d.urls.push_back(url.get<std::string>());
    }
  }
  SLIPWAY_ASSIGN_OR_RETURN(d.annotations, ParseAnnotations(obj, where));
  SLIPWAY_ASSIGN_OR_RETURN(d.artifact_type, OptionalString(obj, where, "artifactType"));
  SLIPWAY_RETURN_IF_ERROR(ParsePlatform(obj, where, d));
  return d;
}

// The media type a body declares must agree with the one it was served as.
Result<std::string> ResolveMediaType(const json& doc, std::string_view served,
                                     bool (*known)(std::string_view), const char* kind,
                                     const char* fallback) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string declared, OptionalString(doc, "", "mediaType"));
  if (IsSchema1(declared) || IsSchema1(served)) return Schema1Error();
  std::string type = !declared.empty() ? declared : !served.empty() ? std::string(served) : fallback;
  if (!known(type))
    return InvalidArgument("mediaType: unsupported " + std::string(kind) + " media type \"" + type + "\"");
  if (!declared.empty() && !served.empty() && declared != served) {
    return InvalidArgument("mediaType: \"" + declared + "\" but served as \"" + std::string(served) + "\"");
  }
  return type;
}

ordered_json DescriptorJson(const Descriptor& d) {
  ordered_json out;
  out["mediaType"] = d.media_type;
  out["digest"] = d.digest.str();
  out["size"] = d.size;
  if (!d.urls.empty()) out["urls"] = d.urls;
  if (!d.artifact_type.empty()) out["artifactType"] = d.artifact_type;
  if (!d.annotations.empty()) out["annotations"] = d.annotations;
  if (!d.os.empty() || !d.architecture.empty()) {
    ordered_json platform;
    platform["architecture"] = d.architecture;
    platform["os"] = d.os;
    if (!d.variant.empty()) platform["variant"] = d.variant;
    out["platform"] = platform;
  }
  return out;
}

}  // namespace

bool IsIndexMediaType(std::string_view type) {
  return OneOf(type, {mt::kOciIndex, mt::kDockerManifestList});
}

bool IsManifestMediaType(std::string_view type) {
  return OneOf(type, {mt::kOciManifest, mt::kDockerManifest});
}

bool IsConfigMediaType(std::string_view type) {
  return OneOf(type, {mt::kOciConfig, mt::kDockerConfig});
}

bool IsLayerMediaType(std::string_view type) {
  return LayerCompression(type).ok();
}

Result<Compression> LayerCompression(std::string_view type) {
  if (OneOf(type, {mt::kOciLayerTar, mt::kOciForeignLayerTar})) return Compression::kNone;
  if (OneOf(type, {mt::kOciLayerTarGzip, mt::kOciForeignLayerTarGzip, mt::kDockerLayerGzip,
                   mt::kDockerForeignLayerGzip})) {
    return Compression::kGzip;
  }
  if (OneOf(type, {mt::kOciLayerTarZstd, mt::kOciForeignLayerTarZstd})) return Compression::kZstd;
  return InvalidArgument("unsupported layer media type \"" + std::string(type) + "\"");
}

const std::string& ManifestAcceptHeader() {
  static const std::string kAccept = std::string(mt::kOciIndex) + ", " + mt::kOciManifest + ", " +
                                     mt::kDockerManifestList + ", " + mt::kDockerManifest;
  return kAccept;
}

std::string Descriptor::Platform() const {
  if (os.empty() && architecture.empty()) return "";
  return os + "/" + architecture + (variant.empty() ? "" : "/" + variant);
}

Descriptor DescribeContent(std::string media_type, std::string_view content) {
  Descriptor d;
  d.media_type = std::move(media_type);
  d.digest = Digest::Of(content);
  d.size = static_cast<int64_t>(content.size());
  return d;
}

Result<std::string> DetectManifestMediaType(std::string_view body, std::string_view content_type) {
  SLIPWAY_ASSIGN_OR_RETURN(json doc, ParseJsonObject(body, "manifest"));
  std::string_view served = BareContentType(content_type);
  auto version = doc.find("schemaVersion");
  if (IsSchema1(served) || (version != doc.end() && *version == 1)) return Schema1Error();
  SLIPWAY_ASSIGN_OR_RETURN(std::string declared, OptionalString(doc, "manifest ", "mediaType"));
  if (IsSchema1(declared)) return Schema1Error();
  auto known = [](std::string_view t) { return IsIndexMediaType(t) || IsManifestMediaType(t); };
  if (!declared.empty()) {
    if (!known(declared)) return InvalidArgument("unsupported manifest media type \"" + declared + "\"");
    if (known(served) && served != declared) {
      return InvalidArgument("manifest mediaType \"" + declared + "\" but served as \"" +
                             std::string(served) + "\"");
    }
    return declared;
  }
  if (known(served)) return std::string(served);
  if (doc.contains("manifests")) return std::string(mt::kOciIndex);
  if (doc.contains("config")) return std::string(mt::kOciManifest);
  if (!served.empty() && served != "application/json" && served != "text/plain") {
    return InvalidArgument("unsupported manifest media type \"" + std::string(served) + "\"");
  }
  return InvalidArgument("manifest has no mediaType and neither \"config\" nor \"manifests\"");
}

Result<Manifest> ParseManifest(std::string_view body, std::string_view media_type) {
  auto parse = [&]() -> Result<Manifest> {
    SLIPWAY_ASSIGN_OR_RETURN(json doc, ParseJsonObject(body, "manifest"));
    SLIPWAY_RETURN_IF_ERROR(CheckSchemaVersion(doc));
    Manifest m;
    SLIPWAY_ASSIGN_OR_RETURN(
        m.media_type, ResolveMediaType(doc, media_type, IsManifestMediaType, "manifest", mt::kOciManifest));
    auto config = doc.find("config");
    if (config == doc.end()) return InvalidArgument("config: missing");
    SLIPWAY_ASSIGN_OR_RETURN(m.config, ParseDescriptor(*config, "config."));
    if (!IsConfigMediaType(m.config.media_type)) {
      return InvalidArgument("config.mediaType: unsupported config media type \"" + m.config.media_type +
                             "\" (not a container image)");
    }
    auto layers = doc.find("layers");
    if (layers == doc.end()) return InvalidArgument("layers: missing");
    if (!layers->is_array()) return InvalidArgument("layers: not an array");
    for (size_t i = 0; i < layers->size(); ++i) {
      std::string where = "layers[" + std::to_string(i) + "].";
      SLIPWAY_ASSIGN_OR_RETURN(Descriptor layer, ParseDescriptor((*layers)[i], where));
      if (!IsLayerMediaType(layer.media_type)) {
        return InvalidArgument(where + "mediaType: unsupported layer media type \"" + layer.media_type +
                               "\"");
      }
      m.layers.push_back(std::move(layer));
    }
    SLIPWAY_ASSIGN_OR_RETURN(m.annotations, ParseAnnotations(doc, ""));
    return m;
  };
  auto result = parse();
  if (!result.ok()) return result.status().Wrap("parse manifest");
  return result;
}

Result<Index> ParseIndex(std::string_view body, std::string_view media_type) {
  auto parse = [&]() -> Result<Index> {
    SLIPWAY_ASSIGN_OR_RETURN(json doc, ParseJsonObject(body, "index"));
    SLIPWAY_RETURN_IF_ERROR(CheckSchemaVersion(doc));
    Index index;
    SLIPWAY_ASSIGN_OR_RETURN(index.media_type,
                             ResolveMediaType(doc, media_type, IsIndexMediaType, "index", mt::kOciIndex));
    auto manifests = doc.find("manifests");
    if (manifests == doc.end()) return InvalidArgument("manifests: missing");
    if (!manifests->is_array()) return InvalidArgument("manifests: not an array");
    for (size_t i = 0; i < manifests->size(); ++i) {
      std::string where = "manifests[" + std::to_string(i) + "].";
      SLIPWAY_ASSIGN_OR_RETURN(Descriptor entry, ParseDescriptor((*manifests)[i], where));
      if (!IsManifestMediaType(entry.media_type) && !IsIndexMediaType(entry.media_type)) {
        return InvalidArgument(where + "mediaType: unsupported manifest media type \"" + entry.media_type +
                               "\"");
      }
      index.manifests.push_back(std::move(entry));
    }
    SLIPWAY_ASSIGN_OR_RETURN(index.annotations, ParseAnnotations(doc, ""));
    return index;
  };
  auto result = parse();
  if (!result.ok()) return result.status().Wrap("parse index");
  return result;
}

Result<Descriptor> SelectPlatform(const Index& index, std::string_view os, std::string_view architecture,
                                  std::string_view variant) {
  std::vector<std::string> platforms;
  for (const Descriptor& entry : index.manifests) {
    if (entry.os == os && entry.architecture == architecture &&
        (variant.empty() || entry.variant == variant)) {
      return entry;
    }
    std::string platform = entry.Platform().empty() ? "(no platform)" : entry.Platform();
    if (std::find(platforms.begin(), platforms.end(), platform) == platforms.end())
      platforms.push_back(platform);
  }
  std::string available;
  for (const std::string& p : platforms) available += (available.empty() ? "" : ", ") + p;
  std::string wanted = std::string(os) + "/" + std::string(architecture);
  if (!variant.empty()) wanted += "/" + std::string(variant);
  return NotFound("no manifest for platform " + wanted +
                  " in the index; available: " + (available.empty() ? "none" : available));
}

std::string SerializeManifest(const Manifest& manifest) {
  ordered_json out;
  out["schemaVersion"] = 2;
  out["mediaType"] = manifest.media_type;
  if (!manifest.artifact_type.empty()) out["artifactType"] = manifest.artifact_type;
  out["config"] = DescriptorJson(manifest.config);
  out["layers"] = ordered_json::array();
  for (const Descriptor& layer : manifest.layers) out["layers"].push_back(DescriptorJson(layer));
  if (manifest.subject) out["subject"] = DescriptorJson(*manifest.subject);
  if (!manifest.annotations.empty()) out["annotations"] = manifest.annotations;
  return out.dump();
}

std::string SerializeIndex(const Index& index) {
  ordered_json out;
  out["schemaVersion"] = 2;
  out["mediaType"] = index.media_type;
  out["manifests"] = ordered_json::array();
  for (const Descriptor& entry : index.manifests) out["manifests"].push_back(DescriptorJson(entry));
  if (!index.annotations.empty()) out["annotations"] = index.annotations;
  return out.dump();
}

}  // namespace slipway
