#include "sha256.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "error.h"

namespace keval {
namespace {

// A fresh directory under the system's temporary directory (honours TMPDIR).
std::filesystem::path make_temp_dir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot create a temporary directory");
  return pattern;
}

// FIPS 180-4 / NIST example vectors.
TEST(Sha256, EmptyMessage) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, Abc) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, FourHundredFortyEightBitMessage) {
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, EightHundredNinetySixBitMessage) {
  EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                       "mnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(Sha256, OneMillionA) {
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, OneMillionAInUnevenPieces) {
  Sha256 h;
  const std::string piece(997, 'a'); // prime, so pieces straddle block boundaries everywhere
  size_t left = 1000000;
  while (left > 0) {
    const size_t n = std::min(left, piece.size());
    h.update(std::string_view(piece).substr(0, n));
    left -= n;
  }
  EXPECT_EQ(h.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, KoreanUtf8) {
  EXPECT_EQ(sha256_hex("한국어 평가"), "80b2877a83c01982600b46f18f8b476511b95b4afa6220f9eacaec34bd0f5d58");
}

// Lengths around the padding boundary (55, 56, 63, 64 bytes) exercise the one- and two-block
// padding paths; any split into updates must give the same digest as one update.
TEST(Sha256, SplitsAgreeWithOneShotAroundBlockBoundaries) {
  std::string message;
  for (int i = 0; i < 200; ++i) message += static_cast<char>('0' + i % 75);
  for (size_t len = 0; len <= message.size(); ++len) {
    const std::string_view m = std::string_view(message).substr(0, len);
    const std::string expected = sha256_hex(m);
    for (size_t split : {size_t(0), size_t(1), len / 2, len > 0 ? len - 1 : 0, len}) {
      if (split > len) continue;
      Sha256 h;
      h.update(m.substr(0, split));
      h.update(m.substr(split));
      EXPECT_EQ(h.hex_digest(), expected) << "len " << len << " split " << split;
    }
  }
}

TEST(Sha256, DigestIsLowerCaseHex) {
  const std::string d = sha256_hex("keval");
  ASSERT_EQ(d.size(), 64u);
  for (char c : d) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << d;
}

TEST(Sha256, FileMatchesInMemoryDigest) {
  const std::filesystem::path dir = make_temp_dir("keval_sha256_test_");
  // Larger than one read chunk, with every byte value, so streaming is exercised.
  std::string content;
  for (int i = 0; i < 1000; ++i) {
    for (int b = 0; b < 256; ++b) content += static_cast<char>(b);
  }
  const std::string path = (dir / "data.bin").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << content;
  }
  EXPECT_EQ(sha256_file_hex(path), "b57b64b198d5d59ce5a22a9b9f25e72a7d081476d432051aa923f3dbebb90934");
  EXPECT_EQ(sha256_file_hex(path), sha256_hex(content));

  const std::string empty = (dir / "empty.txt").string();
  std::ofstream(empty).close();
  EXPECT_EQ(sha256_file_hex(empty), sha256_hex(""));
  std::filesystem::remove_all(dir);
}

TEST(Sha256, UnreadableFileNamesThePath) {
  const std::string path = "/nonexistent/keval/데이터.tsv";
  try {
    sha256_file_hex(path);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

} // namespace
} // namespace keval
