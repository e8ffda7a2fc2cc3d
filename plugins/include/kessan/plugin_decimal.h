// kessan/plugin_decimal.h: exact decimal arithmetic for plugins, header-only.
//
// Money stays in integers (yen are whole units); ratios are written as
// decimal strings with a stated number of digits. Nothing here uses a
// floating point number. Arithmetic that would overflow 128 bits throws
// std::overflow_error (the SDK answers OUT_OF_RANGE); Compare never does.
//
//   kessan::plugin::ScaledDecimal g;
//   kessan::plugin::ParseDecimal("0.077", &g);     // {77, 3}
//   kessan::plugin::FormatRatio(1, 3, 6);          // "0.333333"
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace kessan::plugin {

using int128 = __int128;

// ScaledDecimal is units / 10^scale.
struct ScaledDecimal {
  int128 units = 0;
  int scale = 0;
};

inline std::string Int128ToString(int128 v);

// Checked arithmetic: the exact result, or std::overflow_error.
inline int128 CheckedAdd(int128 a, int128 b) {
  int128 r;
  if (__builtin_add_overflow(a, b, &r))
    throw std::overflow_error(Int128ToString(a) + " + " + Int128ToString(b) + " overflows");
  return r;
}
inline int128 CheckedSub(int128 a, int128 b) {
  int128 r;
  if (__builtin_sub_overflow(a, b, &r))
    throw std::overflow_error(Int128ToString(a) + " - " + Int128ToString(b) + " overflows");
  return r;
}
inline int128 CheckedMul(int128 a, int128 b) {
  int128 r;
  if (__builtin_mul_overflow(a, b, &r))
    throw std::overflow_error(Int128ToString(a) + " x " + Int128ToString(b) + " overflows");
  return r;
}

// ScaleUp(units, n, &out): units * 10^n; false if that overflows.
inline bool ScaleUp(int128 units, int n, int128* out) {
  for (int i = 0; i < n; ++i) {
    if (__builtin_mul_overflow(units, 10, &units)) return false;
  }
  *out = units;
  return true;
}

// Pow10(n): 10^n for 0 <= n <= 38.
inline int128 Pow10(int n) {
  int128 p = 1;
  if (n < 0 || !ScaleUp(1, n, &p)) throw std::overflow_error("10^" + std::to_string(n) + " overflows");
  return p;
}

// ParseDecimal: "-0.530", "4", "0.10", "+1.5". False on anything else
// (exponents, empty, more than 30 digits).
inline bool ParseDecimal(const std::string& text, ScaledDecimal* out) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  int128 units = 0;
  int scale = 0, digits = 0;
  bool point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.' && !point) {
      point = true;
    } else if (c >= '0' && c <= '9') {
      if (++digits > 30) return false;
      units = units * 10 + (c - '0');
      if (point) ++scale;
    } else {
      return false;
    }
  }
  if (digits == 0) return false;
  out->units = negative ? -units : units;
  out->scale = scale;
  return true;
}

// Rescale `d` to `scale` digits; rounds half away from zero when digits
// are dropped.
inline int128 Rescale(const ScaledDecimal& d, int scale) {
  if (scale >= d.scale) return CheckedMul(d.units, Pow10(scale - d.scale));
  int128 div = Pow10(d.scale - scale);
  int128 q = d.units / div, r = d.units % div;
  if (r < 0) r = -r;
  if (r >= div - r) q += d.units < 0 ? -1 : 1;
  return q;
}

// Compare(a, b): -1, 0, 1, exact for any two values.
inline int Compare(const ScaledDecimal& a, const ScaledDecimal& b) {
  const int sa = a.units < 0 ? -1 : (a.units > 0 ? 1 : 0), sb = b.units < 0 ? -1 : (b.units > 0 ? 1 : 0);
  if (sa != sb) return sa < sb ? -1 : 1;
  const int s = a.scale > b.scale ? a.scale : b.scale;
  int128 x = 0, y = 0;
  // Only the one of smaller scale is scaled up; if that overflows, its
  // magnitude is the larger.
  if (!ScaleUp(a.units, s - a.scale, &x)) return sa;
  if (!ScaleUp(b.units, s - b.scale, &y)) return -sb;
  return x < y ? -1 : (x > y ? 1 : 0);
}

inline std::string Int128ToString(int128 v) {
  if (v == 0) return "0";
  bool negative = v < 0;
  std::string s;
  while (v != 0) {
    int digit = static_cast<int>(v % 10);
    s.insert(s.begin(), static_cast<char>('0' + (digit < 0 ? -digit : digit)));
    v /= 10;
  }
  if (negative) s.insert(s.begin(), '-');
  return s;
}

// FormatScaled(units, scale): units / 10^scale as "-0.0123".
inline std::string FormatScaled(int128 units, int scale) {
  bool negative = units < 0;
  std::string digits = Int128ToString(units);
  if (negative) digits.erase(0, 1);
  if (scale > 0) {
    if (static_cast<int>(digits.size()) <= scale) {
      digits.insert(0, static_cast<size_t>(scale + 1 - static_cast<int>(digits.size())), '0');
    }
    digits.insert(digits.size() - static_cast<size_t>(scale), ".");
  }
  return negative ? "-" + digits : digits;
}

inline std::string FormatDecimal(const ScaledDecimal& d) { return FormatScaled(d.units, d.scale); }

// DivideRounded(num, den): num / den rounded half away from zero; den != 0.
inline int128 DivideRounded(int128 num, int128 den) {
  if (den == 0) throw std::overflow_error("division by zero");
  if (den < 0) num = CheckedSub(0, num), den = CheckedSub(0, den);
  int128 q = num / den, r = num % den;
  if (r < 0) r = -r;
  if (r >= den - r) q += num < 0 ? -1 : 1;
  return q;
}

// FormatRatio(num, den, digits): num / den written with `digits` decimals,
// rounded half away from zero. den must not be 0.
inline std::string FormatRatio(int128 num, int128 den, int digits) {
  return FormatScaled(DivideRounded(CheckedMul(num, Pow10(digits)), den), digits);
}

// FormatYen(12345678) -> "12,345,678" (for derivations).
inline std::string FormatGrouped(int128 v) {
  std::string digits = Int128ToString(v);
  if (v < 0) digits.erase(0, 1);
  std::string out = v < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace kessan::plugin
