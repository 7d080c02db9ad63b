#include "format/codec.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include <lz4frame.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_decompressBound (zstd >= 1.4.0)
#include <zstd.h>

#include <fmt/format.h>

namespace kafka_backup::format {

const char* CodecName(Codec codec) {
  switch (codec) {
    case Codec::kNone:
      return "none";
    case Codec::kZstd:
      return "zstd";
    case Codec::kLz4:
      return "lz4";
  }
  return "unknown";
}

Result<Codec> ParseCodec(std::string_view name) {
  if (name == "none") return Codec::kNone;
  if (name == "zstd") return Codec::kZstd;
  if (name == "lz4") return Codec::kLz4;
  return Status::InvalidArgument(fmt::format("unknown compression '{}': expected one of none, zstd, lz4", name));
}

Status Compress(Codec codec, int level, std::string_view raw, std::string* out) {
  switch (codec) {
    case Codec::kNone:
      out->append(raw);
      return Status::Ok();
    case Codec::kZstd: {
      size_t bound = ZSTD_compressBound(raw.size());
      size_t start = out->size();
      out->resize(start + bound);
      // One context per thread, reused: creating one per block costs more
      // than compressing a small block.
      thread_local std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
      size_t n = ZSTD_compressCCtx(cctx.get(), out->data() + start, bound, raw.data(), raw.size(), level);
      if (ZSTD_isError(n)) {
        out->resize(start);
        return Status::Internal(fmt::format("zstd compression failed: {}", ZSTD_getErrorName(n)));
      }
      out->resize(start + n);
      return Status::Ok();
    }
    case Codec::kLz4: {
      LZ4F_preferences_t prefs{};
      prefs.frameInfo.contentSize = raw.size();
      size_t bound = LZ4F_compressFrameBound(raw.size(), &prefs);
      size_t start = out->size();
      out->resize(start + bound);
      size_t n = LZ4F_compressFrame(out->data() + start, bound, raw.data(), raw.size(), &prefs);
      if (LZ4F_isError(n)) {
        out->resize(start);
        return Status::Internal(fmt::format("lz4 compression failed: {}", LZ4F_getErrorName(n)));
      }
      out->resize(start + n);
      return Status::Ok();
    }
  }
  return Status::Internal("unknown codec");
}

// An LZ4 frame decompresses to at most 255 times its size: a match grows by at
// most 255 bytes per input byte. The content size a frame header declares is
// only a claim, so it never raises that bound.
constexpr uint64_t kLz4MaxRatio = 255;
// A zstd block yields at most 128 KiB and takes at least 4 bytes (3 of header,
// 1 of RLE payload), so a frame decompresses to at most 32 KiB per input byte.
// ZSTD_decompressBound trusts a declared content size; this bound does not.
constexpr uint64_t kZstdMaxRatio = ZSTD_BLOCKSIZE_MAX / 4;

namespace {

// Sizes `out` to n bytes. Grown, it is reallocated to exactly n, not to twice
// its capacity: a decoded block the restore holds costs what it holds.
void ResizeExactly(std::string* out, size_t n) {
  if (out->capacity() < n) std::string().swap(*out);
  out->resize(n);
}

}  // namespace

Status Decompress(Codec codec, std::string_view compressed, size_t raw_size, std::string* out) {
  // `raw_size` comes from the block header and is allocated up front: check
  // first that the payload can hold that much, so a corrupt header is an
  // error and not an allocation of up to 4 GiB.
  switch (codec) {
    case Codec::kNone:
      if (compressed.size() != raw_size) {
        return Status::Corruption(fmt::format("stored block is {} bytes, expected {}", compressed.size(), raw_size));
      }
      ResizeExactly(out, raw_size);
      if (raw_size > 0) std::memcpy(out->data(), compressed.data(), raw_size);
      return Status::Ok();
    case Codec::kZstd: {
      unsigned long long bound = ZSTD_decompressBound(compressed.data(), compressed.size());
      if (bound == ZSTD_CONTENTSIZE_ERROR) return Status::Corruption("zstd: the payload is not a zstd frame");
      bound = std::min<unsigned long long>(bound, kZstdMaxRatio * compressed.size());
      if (raw_size > bound) {
        return Status::Corruption(
            fmt::format("zstd block holds at most {} bytes, its header says {}", bound, raw_size));
      }
      ResizeExactly(out, raw_size);
      // As for compression: one context per thread, reused.
      thread_local std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
      size_t n = ZSTD_decompressDCtx(dctx.get(), out->data(), raw_size, compressed.data(), compressed.size());
      if (ZSTD_isError(n)) return Status::Corruption(fmt::format("zstd: {}", ZSTD_getErrorName(n)));
      if (n != raw_size) {
        return Status::Corruption(fmt::format("zstd block decompressed to {} bytes, expected {}", n, raw_size));
      }
      return Status::Ok();
    }
    case Codec::kLz4: {
      LZ4F_dctx* dctx = nullptr;
      if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
        return Status::Internal("lz4: cannot create decompression context");
      }
      std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> owner(dctx, &LZ4F_freeDecompressionContext);
      LZ4F_frameInfo_t info{};
      size_t header_size = compressed.size();
      size_t r = LZ4F_getFrameInfo(dctx, &info, compressed.data(), &header_size);
      if (LZ4F_isError(r)) return Status::Corruption(fmt::format("lz4: {}", LZ4F_getErrorName(r)));
      uint64_t bound = kLz4MaxRatio * compressed.size();
      if (info.contentSize != 0) bound = std::min<uint64_t>(bound, info.contentSize);
      if (raw_size > bound) {
        return Status::Corruption(fmt::format("lz4 block holds at most {} bytes, its header says {}", bound, raw_size));
      }
      ResizeExactly(out, raw_size);
      size_t dst_size = raw_size;
      size_t src_size = compressed.size() - header_size;
      r = LZ4F_decompress(dctx, out->data(), &dst_size, compressed.data() + header_size, &src_size, nullptr);
      if (LZ4F_isError(r)) return Status::Corruption(fmt::format("lz4: {}", LZ4F_getErrorName(r)));
      if (r != 0 || dst_size != raw_size || header_size + src_size != compressed.size()) {
        return Status::Corruption(fmt::format("lz4 block decompressed to {} bytes, expected {}", dst_size, raw_size));
      }
      return Status::Ok();
    }
  }
  return Status::Corruption(fmt::format("unknown codec id {}", static_cast<int>(codec)));
}

}  // namespace kafka_backup::format
