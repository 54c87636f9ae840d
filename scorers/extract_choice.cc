#include "extract_choice.h"

#include <algorithm>
#include <array>
#include <optional>
#include <set>

#include "normalize.h"

namespace keval {
namespace {

using std::string_view;

// --- code points over valid UTF-8 (the text has been through NFC, so it is valid) -------------

char32_t cp_at(string_view s, size_t pos, size_t* len = nullptr) {
  if (pos >= s.size()) {
    if (len) *len = 0;
    return 0;
  }
  const auto b0 = static_cast<unsigned char>(s[pos]);
  size_t n = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
  if (pos + n > s.size()) n = s.size() - pos;
  char32_t cp = n == 1 ? b0 : n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[pos + k]) & 0x3F);
  if (len) *len = n;
  return cp;
}

// The code point ending just before `pos` (0 at the start); `start` receives its position.
char32_t cp_before(string_view s, size_t pos, size_t* start = nullptr) {
  if (pos == 0) {
    if (start) *start = 0;
    return 0;
  }
  size_t p = pos - 1;
  while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
  if (start) *start = p;
  return cp_at(s, p);
}

bool is_syllable(char32_t c) { return c >= 0xAC00 && c <= 0xD7A3; }
bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_ascii_alpha(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_alnum(char32_t c) { return is_ascii_digit(c) || is_ascii_alpha(c); }

// ①…⑩, ⑴…⑽, ❶…❿, ➀…➉, ➊…➓ → 0-based index.
int circled_index(char32_t c) {
  if (c >= 0x2460 && c <= 0x2469) return static_cast<int>(c - 0x2460);
  if (c >= 0x2474 && c <= 0x247D) return static_cast<int>(c - 0x2474);
  if (c >= 0x2776 && c <= 0x277F) return static_cast<int>(c - 0x2776);
  if (c >= 0x2780 && c <= 0x2789) return static_cast<int>(c - 0x2780);
  if (c >= 0x278A && c <= 0x2793) return static_cast<int>(c - 0x278A);
  return -1;
}

enum class LabelKind { latin, digit, hangul, circled, other };

LabelKind kind_of(string_view label) {
  size_t len = 0;
  const char32_t c = cp_at(label, 0, &len);
  if (label.empty()) return LabelKind::other;
  if (len == label.size()) {
    if (is_ascii_alpha(c)) return LabelKind::latin;
    if (circled_index(c) >= 0) return LabelKind::circled;
    if (is_syllable(c)) return LabelKind::hangul;
  }
  if (std::all_of(label.begin(), label.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    return LabelKind::digit;
  return LabelKind::other;
}

// Particles and copulas that may follow a label or a choice inside its word ("3번이", "B입니다").
enum class Particle { none, copula, subject, topic, object, conjunction, other };

struct ParticleWord {
  string_view text;
  Particle kind;
};

// Longest first, so "이라고" wins over "이라" and "이".
constexpr std::array k_particles = {
    ParticleWord{"이라는", Particle::other},  ParticleWord{"이라고", Particle::other},
    ParticleWord{"입니다", Particle::copula}, ParticleWord{"이에요", Particle::copula},
    ParticleWord{"이예요", Particle::copula}, ParticleWord{"라는", Particle::other},
    ParticleWord{"라고", Particle::other},    ParticleWord{"이라", Particle::other},
    ParticleWord{"예요", Particle::copula},   ParticleWord{"이다", Particle::copula},
    ParticleWord{"이요", Particle::copula},   ParticleWord{"이야", Particle::copula},
    ParticleWord{"으로", Particle::other},    ParticleWord{"이며", Particle::other},
    ParticleWord{"이고", Particle::other},    ParticleWord{"이나", Particle::conjunction},
    ParticleWord{"이랑", Particle::conjunction}, ParticleWord{"랑", Particle::conjunction},
    ParticleWord{"임", Particle::copula},     ParticleWord{"요", Particle::copula},
    ParticleWord{"야", Particle::copula},     ParticleWord{"이", Particle::subject},
    ParticleWord{"가", Particle::subject},    ParticleWord{"은", Particle::topic},
    ParticleWord{"는", Particle::topic},      ParticleWord{"을", Particle::object},
    ParticleWord{"를", Particle::object},     ParticleWord{"와", Particle::conjunction},
    ParticleWord{"과", Particle::conjunction}, ParticleWord{"나", Particle::conjunction},
    ParticleWord{"라", Particle::other},      ParticleWord{"로", Particle::other},
    ParticleWord{"인", Particle::other},      ParticleWord{"일", Particle::other},
    ParticleWord{"에", Particle::other},      ParticleWord{"의", Particle::other},
    ParticleWord{"도", Particle::other},      ParticleWord{"만", Particle::other},
};

// After a choice's text only a copula or a few endings are accepted: "예를 들어" is not "예".
constexpr std::array<string_view, 14> k_choice_endings = {
    "이라고", "입니다", "이에요", "라고", "예요", "이다", "이요", "으로", "이며", "이고", "임", "요", "로", "인"};

// Phrases that introduce an answer. Korean ones must start a word ("오답은 A" is not "답은 A").
struct Cue {
  string_view text;
  bool english;
};
constexpr std::array k_cues = {
    Cue{"정답", false},   Cue{"대답", false},    Cue{"답변", false},       Cue{"답", false},
    Cue{"선택", false},   Cue{"것은", false},    Cue{"아니라", false},     Cue{"아니고", false},
    Cue{"answer", true},  Cue{"option is", true}, Cue{"choice is", true},
    Cue{"i choose", true}, Cue{"i would choose", true}, Cue{"i'd choose", true}, Cue{"i will choose", true},
    Cue{"i'll choose", true}, Cue{"i select", true}, Cue{"i would select", true}, Cue{"i'll go with", true},
    Cue{"i would go with", true}, Cue{"i'd go with", true},
};

// Words skipped between a cue and its answer.
constexpr std::array<string_view, 7> k_cue_particles = {"으로는", "은요", "는요", "으로", "은", "는", "이"};
constexpr std::array<string_view, 11> k_korean_fillers = {"다음과 같습니다", "다음과 같다", "바로", "아마도", "아마",
                                                          "번호", "선택지", "보기", "옵션", "최종적으로", "결국"};
constexpr std::array<string_view, 26> k_english_fillers = {
    "is", "would", "will", "should", "must", "be", "probably", "likely", "definitely", "clearly",
    "option", "choice", "letter", "number", "to", "this", "that", "the", "question", "problem",
    "correct", "right", "final", "best", "for", "of"};

constexpr std::array<string_view, 4> k_negations = {"아니", "아닙", "아님", "않"};

constexpr std::array<string_view, 20> k_refusals = {
    "답변할 수 없", "답할 수 없", "대답할 수 없", "선택할 수 없", "고를 수 없", "판단할 수 없",
    "모르겠", "답변을 드릴 수 없", "도와드릴 수 없", "죄송", "cannot answer", "can't answer",
    "unable to", "i cannot", "i can't", "i'm sorry", "i am sorry", "as an ai", "cannot determine",
    "not able to"};

struct Opener {
  string_view open;
  string_view close;
};
constexpr std::array k_openers = {
    Opener{"(", ")"}, Opener{"[", "]"}, Opener{"{", "}"}, Opener{"<", ">"}, Opener{"\"", "\""},
    Opener{"'", "'"}, Opener{"“", "”"}, Opener{"‘", "’"}, Opener{"「", "」"}, Opener{"『", "』"},
    Opener{"【", "】"}, Opener{"〈", "〉"}, Opener{"《", "》"}};

struct LabelForm {
  std::string text;
  std::string lower;
  int index;
  LabelKind kind;
};

struct ChoiceForm {
  std::string text;  // normalised, ASCII lower-cased
  int index;
};

struct Hit {
  int index = -1;
  size_t begin = 0;
  size_t end = 0;  // after the label and its closing bracket
  LabelKind kind = LabelKind::other;
  bool bracketed = false;
  bool lowercase = false;  // a lower-case letter standing for an upper-case label
};

struct Suffix {
  bool ok = false;
  bool beon = false;  // "번", "번째" or "항" followed the label
  Particle particle = Particle::none;
  size_t end = 0;
};

// Drops markdown emphasis, which models wrap answers in ("**B**", "`C`").
std::string prepare(string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != '*' && c != '`') out += c;
  return out;
}

std::string ascii_lower(string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

class Extractor {
public:
  Extractor(string_view response, const std::vector<std::string>& labels,
            const std::vector<std::string>& choice_texts) {
    // Per line, so a label alone on the first line stays recognisable as such.
    const std::string raw = prepare(normalize::strip_think(response));
    size_t start = 0;
    while (start <= raw.size()) {
      size_t nl = raw.find('\n', start);
      if (nl == std::string::npos) nl = raw.size();
      std::string line = normalize::for_compare(string_view(raw).substr(start, nl - start));
      if (!line.empty()) {
        if (!m_text.empty()) m_text += '\n';
        m_text += line;
      }
      start = nl + 1;
    }
    m_lower = ascii_lower(m_text);

    m_count = static_cast<int>(labels.empty() ? choice_texts.size() : labels.size());
    bool all_circled = !labels.empty();
    for (size_t i = 0; i < labels.size(); ++i) {
      std::string t = prepare(normalize::for_compare(labels[i]));
      if (t.empty()) {
        all_circled = false;
        continue;
      }
      const LabelKind kind = kind_of(t);
      if (kind != LabelKind::circled) all_circled = false;
      std::string lower = ascii_lower(t);
      m_labels.push_back({std::move(t), std::move(lower), static_cast<int>(i), kind});
    }
    m_circled_labels = all_circled;
    std::stable_sort(m_labels.begin(), m_labels.end(),
                     [](const LabelForm& a, const LabelForm& b) { return a.text.size() > b.text.size(); });
    for (size_t i = 0; i < choice_texts.size() && static_cast<int>(i) < m_count; ++i) {
      std::string t = ascii_lower(prepare(normalize::for_compare(choice_texts[i])));
      if (!t.empty()) m_choices.push_back({std::move(t), static_cast<int>(i)});
    }
    std::stable_sort(m_choices.begin(), m_choices.end(),
                     [](const ChoiceForm& a, const ChoiceForm& b) { return a.text.size() > b.text.size(); });
  }

  ChoiceExtraction run() const {
    if (m_text.empty() || m_count <= 0) return {};
    std::vector<std::pair<int, std::string>> asserted;
    std::vector<std::pair<int, std::string>> copulas;
    scan_cues(asserted);
    scan_labels(asserted, copulas);
    if (auto r = decide(asserted)) return *r;
    if (auto r = decide(copulas)) return *r;
    if (auto r = start_label(true)) return *r;
    if (refusal()) return {};
    if (auto r = start_label(false)) return *r;
    return unique_choice_text();
  }

private:
  // Unanimous → that choice; none → keep looking; several different → unparsed (-1).
  static std::optional<ChoiceExtraction> decide(const std::vector<std::pair<int, std::string>>& found) {
    if (found.empty()) return std::nullopt;
    for (const auto& f : found)
      if (f.first != found.front().first) return ChoiceExtraction{};
    return ChoiceExtraction{found.front().first, found.front().second};
  }

  bool at(size_t pos, string_view word) const { return m_text.compare(pos, word.size(), word) == 0; }
  bool at_lower(size_t pos, string_view word) const { return m_lower.compare(pos, word.size(), word) == 0; }
  // True when the code point at `pos` does not continue a Hangul word.
  bool syllable_boundary(size_t pos) const { return pos >= m_text.size() || !is_syllable(cp_at(m_text, pos)); }
  bool alpha_boundary(size_t pos) const { return pos >= m_text.size() || !is_ascii_alpha(cp_at(m_text, pos)); }

  size_t skip_spaces(size_t pos) const {
    while (pos < m_text.size() && (m_text[pos] == ' ' || m_text[pos] == '\n')) ++pos;
    return pos;
  }

  // A label at `pos`, optionally in brackets. `check_before`: the label must start a word.
  std::optional<Hit> label_at(size_t pos, bool check_before) const {
    if (pos >= m_text.size()) return std::nullopt;
    Hit hit;
    hit.begin = pos;
    size_t p = pos;
    string_view close;
    for (const auto& o : k_openers) {
      if (at(p, o.open)) {
        close = o.close;
        p += o.open.size();
        hit.bracketed = true;
        break;
      }
    }
    if (check_before) {
      const char32_t prev = cp_before(m_text, pos);
      if (is_ascii_alnum(prev)) return std::nullopt;
      if (!hit.bracketed && is_syllable(prev)) return std::nullopt;
    }
    size_t len = 0;
    const char32_t c = cp_at(m_text, p, &len);
    size_t label_len = 0;
    if (const int ci = circled_index(c); ci >= 0) {
      if (ci >= m_count) return std::nullopt;
      hit.index = ci;
      hit.kind = LabelKind::circled;
      label_len = len;
    } else {
      for (const auto& l : m_labels) {
        if (at(p, l.text)) {
          hit.index = l.index;
          hit.kind = l.kind;
          label_len = l.text.size();
          break;
        }
        if (l.kind == LabelKind::latin && at_lower(p, l.lower)) {
          hit.index = l.index;
          hit.kind = l.kind;
          hit.lowercase = true;
          label_len = l.text.size();
          break;
        }
      }
      // With circled labels a plain digit names the same choice ("3번" for ③).
      if (hit.index < 0 && m_circled_labels && c >= '1' && c <= '9') {
        const int d = static_cast<int>(c - '1');
        if (d < m_count) {
          hit.index = d;
          hit.kind = LabelKind::digit;
          label_len = 1;
        }
      }
    }
    if (hit.index < 0) return std::nullopt;
    size_t q = p + label_len;
    const char32_t next = cp_at(m_text, q);
    const char32_t last = cp_before(m_text, q);
    if (is_ascii_alpha(last) && is_ascii_alnum(next)) return std::nullopt;  // "Apple", "B2"
    if (is_ascii_digit(last)) {
      if (is_ascii_digit(next)) return std::nullopt;  // "2023"
      if ((next == '.' || next == ',') && is_ascii_digit(cp_at(m_text, q + 1))) return std::nullopt;  // "3.5"
      if (check_before) {  // "0.3": the digit continues a number
        size_t prev_start = 0;
        const char32_t prev = cp_before(m_text, p, &prev_start);
        if ((prev == '.' || prev == ',') && is_ascii_digit(cp_before(m_text, prev_start))) return std::nullopt;
      }
    }
    if (hit.bracketed) {
      if (!at(q, close)) return std::nullopt;
      q += close.size();
    }
    hit.end = q;
    return hit;
  }

  // What follows a label inside its word: an optional 번/항 and one particle, then a word end.
  Suffix suffix_at(size_t pos, const Hit& hit) const {
    Suffix s;
    size_t p = pos;
    if (at(p, "번째")) {  // "3번째 보기"
      s.beon = true;
      p += 6;
    } else if (at(p, "번") || at(p, "항")) {
      s.beon = true;
      p += 3;
    }
    bool matched = false;
    for (const auto& pw : k_particles) {
      if (!at(p, pw.text) || !syllable_boundary(p + pw.text.size())) continue;
      // "3일" is a date; "B일 것" or "3번일 것" is an answer.
      if (pw.text == "일" && hit.kind == LabelKind::digit && !s.beon) continue;
      s.particle = pw.kind;
      p += pw.text.size();
      matched = true;
      break;
    }
    if (!matched && !syllable_boundary(p)) return s;  // "3개", "B형", "1번째"
    s.ok = true;
    s.end = p;
    return s;
  }

  // Whether the next two words deny what precedes ("정답이 아닙니다", "맞지 않습니다").
  bool negated_after(size_t pos) const {
    size_t p = pos;
    int spaces = 0;
    while (p < m_text.size()) {
      const char ch = m_text[p];
      if (ch == '.' || ch == '\n' || ch == ',' || ch == '!' || ch == '?') break;
      if (ch == ' ' && ++spaces > 1) break;
      if (at(p, "아니면")) return false;  // "B 아니면 C" offers a choice, it denies nothing
      for (auto n : k_negations)
        if (at(p, n)) return true;
      if (at_lower(p, "not ") || at_lower(p, "n't")) return true;
      size_t len = 1;
      cp_at(m_text, p, &len);
      p += len;
    }
    return false;
  }

  // Cue-led assertions: "정답은 X", "답: X번", "The answer is X", "아니라 X".
  void scan_cues(std::vector<std::pair<int, std::string>>& out) const {
    for (const auto& cue : k_cues) {
      const std::string& hay = cue.english ? m_lower : m_text;
      for (size_t pos = hay.find(cue.text); pos != std::string::npos; pos = hay.find(cue.text, pos + 1)) {
        const char32_t prev = cp_before(m_text, pos);
        if (cue.english ? is_ascii_alpha(prev) : is_syllable(prev)) continue;
        size_t p = pos + cue.text.size();
        if (cue.english && !alpha_boundary(p)) continue;  // "answers", "answered"
        bool negated = false;
        p = skip_cue_fillers(p, cue.english, negated);
        if (negated) continue;
        read_cued_answer(p, out);
      }
    }
  }

  size_t skip_cue_fillers(size_t p, bool english, bool& negated) const {
    for (int round = 0; round < 12; ++round) {
      const size_t before = p;
      while (p < m_text.size() && (m_text[p] == ' ' || m_text[p] == '\n' || m_text[p] == ':' || m_text[p] == '=' ||
                                   m_text[p] == '-' || m_text[p] == '>' || m_text[p] == ','))
        ++p;
      for (string_view arrow : {"→", "⇒", "—", "–"})
        if (at(p, arrow)) p += arrow.size();
      if (!english) {
        for (auto w : k_cue_particles)
          if (at(p, w) && syllable_boundary(p + w.size())) {
            p += w.size();
            break;
          }
        for (auto w : k_korean_fillers)
          if (at(p, w)) {
            p += w.size();
            break;
          }
      } else {
        if (at_lower(p, "not") && alpha_boundary(p + 3)) {
          negated = true;
          p += 3;
        }
        for (auto w : k_english_fillers)
          if (at_lower(p, w) && alpha_boundary(p + w.size())) {
            p += w.size();
            break;
          }
      }
      if (p == before) break;
    }
    return p;
  }

  void read_cued_answer(size_t p, std::vector<std::pair<int, std::string>>& out) const {
    if (auto hit = label_at(p, false)) {
      const Suffix s = suffix_at(hit->end, *hit);
      if (!s.ok || s.particle == Particle::subject || s.particle == Particle::topic ||
          s.particle == Particle::object)
        return;  // "정답은 1번이 아니라", "것은 A가 B보다"
      if (hit->lowercase && s.end < m_text.size() && m_text[s.end] == ' ' &&
          is_ascii_alpha(cp_at(m_text, skip_spaces(s.end))))
        return;  // "the answer is a matter of …"
      if (negated_after(s.end)) return;  // "정답은 1번 아님"
      out.emplace_back(hit->index, m_text.substr(hit->begin, s.end - hit->begin));
      read_continuation(s, out);
      return;
    }
    for (const auto& c : m_choices) {
      if (!at_lower(p, c.text)) continue;
      const size_t end = choice_end(p, c);
      if (end == std::string::npos) continue;
      if (negated_after(end)) return;
      out.emplace_back(c.index, m_text.substr(p, c.text.size()));
      return;
    }
  }

  // "정답은 A 또는 B", "A와 B": a second label after the first makes the assertion a conflict.
  void read_continuation(const Suffix& s, std::vector<std::pair<int, std::string>>& out) const {
    size_t p = s.end;
    if (s.particle != Particle::conjunction) {
      p = skip_spaces(p);
      bool joined = false;
      for (string_view w : {",", "/", "&", "또는", "혹은", "아니면", "or ", "and "}) {
        if (at_lower(p, w)) {
          p += w.size();
          joined = true;
          break;
        }
      }
      if (!joined) return;
    }
    p = skip_spaces(p);
    auto hit = label_at(p, false);
    if (!hit) return;
    const Suffix s2 = suffix_at(hit->end, *hit);
    if (!s2.ok || (s2.particle != Particle::none && s2.particle != Particle::copula)) return;
    const size_t after = skip_spaces(s2.end);
    if (after < m_text.size() && is_ascii_alpha(cp_at(m_text, after))) return;  // "B and A is wrong"
    out.emplace_back(hit->index, m_text.substr(hit->begin, s2.end - hit->begin));
  }

  // Where a choice's text ends when it stands as a word at `p`, or npos. `mention`: also accept
  // a conjunction ("재무상태표와 손익계산서" mentions both).
  size_t choice_end(size_t p, const ChoiceForm& c, bool mention = false) const {
    size_t end = p + c.text.size();
    const char32_t last = cp_before(m_lower, end);
    const char32_t next = cp_at(m_text, end);
    if (is_ascii_alnum(last) && is_ascii_alnum(next)) return std::string::npos;
    if (is_syllable(last) && is_syllable(next)) {
      bool ok = false;
      for (auto e : k_choice_endings)
        if (at(end, e) && syllable_boundary(end + e.size())) {
          end += e.size();
          ok = true;
          break;
        }
      if (!ok && mention)
        for (string_view e : {"이랑", "이나", "와", "과", "랑", "나", "도"})
          if (at(end, e) && syllable_boundary(end + e.size())) {
            end += e.size();
            ok = true;
            break;
          }
      // Case particles mark a mention too, but not after a one-syllable choice ("예를 들어").
      if (!ok && mention && c.text.size() > 3)
        for (string_view e : {"이", "가", "은", "는", "을", "를"})
          if (at(end, e) && syllable_boundary(end + e.size())) {
            end += e.size();
            ok = true;
            break;
          }
      if (!ok) return std::string::npos;
    }
    return end;
  }

  bool choice_starts_word(size_t p, const ChoiceForm& c) const {
    const char32_t prev = cp_before(m_text, p);
    const char32_t first = cp_at(c.text, 0);
    if (is_ascii_alnum(first) && is_ascii_alnum(prev)) return false;
    if (is_syllable(first) && is_syllable(prev)) return false;
    return true;
  }

  // Label-led assertions ("3번이 정답", "B is correct") and copulas ("3번입니다").
  void scan_labels(std::vector<std::pair<int, std::string>>& asserted,
                   std::vector<std::pair<int, std::string>>& copulas) const {
    size_t len = 1;
    for (size_t pos = 0; pos < m_text.size(); pos += len) {
      cp_at(m_text, pos, &len);
      if (len == 0) break;
      auto hit = label_at(pos, true);
      if (!hit) continue;
      const Suffix s = suffix_at(hit->end, *hit);
      if (!s.ok) continue;
      // A bare Hangul syllable is usually a word ("나는", "다음"): it must be bracketed or numbered.
      if (hit->kind == LabelKind::hangul && !hit->bracketed && !s.beon) continue;
      const std::string span = m_text.substr(hit->begin, s.end - hit->begin);
      if (s.particle == Particle::copula) {
        if (!hit->lowercase) copulas.emplace_back(hit->index, span);
        continue;
      }
      if (s.particle != Particle::none && s.particle != Particle::subject && s.particle != Particle::topic &&
          s.particle != Particle::object)
        continue;
      if (const size_t word_end = asserting_word(s.end, s.particle)) {
        if (!negated_after(word_end) && !questioning(word_end)) asserted.emplace_back(hit->index, span);
      }
    }
  }

  // After "X가 " / "X " / "X를 ": the end of a word asserting X ("정답", "맞", "옳", "선택",
  // "is correct"), or 0.
  size_t asserting_word(size_t pos, Particle particle) const {
    if (particle == Particle::none) {
      for (string_view w : {" is correct", " is the correct", " is the answer", " is the right", " is right",
                            " is the best", " would be correct", " is true"})
        if (at_lower(pos, w)) return pos + w.size();
    }
    const size_t p = skip_spaces(pos);
    if (p == pos && particle == Particle::none) return 0;  // "B정답" is not a phrase
    if (particle == Particle::object) {
      for (string_view w : {"선택", "고르", "고릅", "골라", "골랐", "택하", "택합"})
        if (at(p, w)) return p + w.size();
      return 0;
    }
    // "A는 옳다", "①은 적절한 설명이다": a topic marks commentary on each option, not a choice;
    // only "X는 정답" counts.
    if (particle != Particle::topic)
      for (string_view w : {"맞", "옳", "올바른 답", "올바르", "선택", "가장 적절", "적절", "가장 알맞", "알맞", "가장 타당",
                            "타당"})
        if (at(p, w)) return p + w.size();
    if (at(p, "정답")) return p + 6;
    if (at(p, "답")) {
      const size_t q = p + 3;
      if (syllable_boundary(q) || at(q, "이") || at(q, "입") || at(q, "은") || at(q, "으")) return q;
    }
    return 0;
  }

  // "A가 맞는지 보면", "B가 정답일까": weighing an option is not choosing it.
  bool questioning(size_t pos) const {
    for (string_view w : {"는지", "은지", "인지", "을지", "일지", "을까", "일까", "는가", "나요", "습니까", "?"})
      if (at(pos, w)) return true;
    // "맞는지": the assertion word may end mid-word ("맞" + "는지"); look one syllable on.
    size_t len = 0;
    if (is_syllable(cp_at(m_text, pos, &len)))
      for (string_view w : {"는지", "을까", "는가", "나요", "습니까"})
        if (at(pos, w) || at(pos + len, w)) return true;
    return false;
  }

  // A label at the very start: the whole response (`whole`) or followed by punctuation.
  std::optional<ChoiceExtraction> start_label(bool whole) const {
    size_t p = 0;
    while (p < m_text.size() && (m_text[p] == '#' || m_text[p] == '>' || m_text[p] == ' ')) ++p;
    auto hit = label_at(p, false);
    if (!hit) return std::nullopt;
    const Suffix s = suffix_at(hit->end, *hit);
    if (!s.ok) return std::nullopt;
    const ChoiceExtraction found{hit->index, m_text.substr(hit->begin, s.end - hit->begin)};
    const bool bare_suffix = s.particle == Particle::none || s.particle == Particle::copula;
    if (!bare_suffix) return std::nullopt;
    size_t rest = s.end;
    while (rest < m_text.size() && std::string_view(".!。 \n").find(m_text[rest]) != std::string_view::npos) ++rest;
    if (whole) {
      if (rest >= m_text.size()) return found;
      return std::nullopt;
    }
    if (s.end >= m_text.size()) return found;
    const char next = m_text[s.end];
    if (s.beon || s.particle == Particle::copula) return found;
    if (next == '\n') return found;
    if (std::string_view(".):,]-/;").find(next) != std::string_view::npos) {
      if (hit->kind == LabelKind::digit || hit->kind == LabelKind::latin || hit->kind == LabelKind::hangul) {
        if (enumerated(*hit, next)) return std::nullopt;  // "1. 먼저 … 2. 그다음 …" is a list, not an answer
      }
      return found;
    }
    if (next == ' ') {
      if (hit->bracketed) return found;  // "(C) 설명"
      // "B 재무상태표" or "B (손익계산서)", not "A good …", "A + B" or "2 + 3 = 5".
      const char32_t after = cp_at(m_text, s.end + 1);
      if (!hit->lowercase && (hit->kind == LabelKind::latin || hit->kind == LabelKind::circled) &&
          (after >= 0x80 || after == '('))
        return found;
    }
    return std::nullopt;
  }

  // Whether the next label also appears as a list item ("\n2." after "1.").
  bool enumerated(const Hit& hit, char punct) const {
    const int next = hit.index + 1;
    if (next >= m_count) return false;
    std::string next_label;
    for (const auto& l : m_labels)
      if (l.index == next) next_label = l.text;
    if (next_label.empty()) return false;
    const std::string item = next_label + punct;
    for (size_t pos = m_text.find(item, 1); pos != std::string::npos; pos = m_text.find(item, pos + 1)) {
      const char prev = m_text[pos - 1];
      if (prev == ' ' || prev == '\n') return true;
    }
    return false;
  }

  bool refusal() const {
    for (auto r : k_refusals)
      if (m_lower.find(r) != std::string::npos) return true;
    return false;
  }

  // Exactly one choice's text appears as a word (longer texts mask the shorter ones inside them).
  ChoiceExtraction unique_choice_text() const {
    std::vector<std::pair<size_t, size_t>> taken;
    std::set<int> seen;
    std::string matched;
    for (const auto& c : m_choices) {
      for (size_t pos = m_lower.find(c.text); pos != std::string::npos; pos = m_lower.find(c.text, pos + 1)) {
        const size_t end = pos + c.text.size();
        const bool overlaps = std::any_of(taken.begin(), taken.end(),
                                          [&](const auto& r) { return pos < r.second && end > r.first; });
        if (overlaps || !choice_starts_word(pos, c) || choice_end(pos, c, true) == std::string::npos) continue;
        taken.emplace_back(pos, end);
        if (seen.insert(c.index).second) matched = m_text.substr(pos, c.text.size());
      }
    }
    if (seen.size() != 1) return {};
    return {*seen.begin(), matched};
  }

  std::string m_text;   // normalised response, lines kept
  std::string m_lower;  // the same, ASCII lower-cased (same byte offsets)
  std::vector<LabelForm> m_labels;
  std::vector<ChoiceForm> m_choices;
  int m_count = 0;
  bool m_circled_labels = false;
};

} // namespace

ChoiceExtraction extract_choice(std::string_view response, const std::vector<std::string>& labels,
                                const std::vector<std::string>& choice_texts) {
  return Extractor(response, labels, choice_texts).run();
}

} // namespace keval
