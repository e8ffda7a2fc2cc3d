// Early-return helpers for absl::Status (Abseil 20220623 ships none).
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KESSAN_CONCAT_INNER(a, b) a##b
#define KESSAN_CONCAT(a, b) KESSAN_CONCAT_INNER(a, b)

// RETURN_IF_ERROR(expr): returns the status of `expr` when it is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status kessan_status_ = (expr);          \
    if (!kessan_status_.ok()) return kessan_status_; \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): unwraps a StatusOr or returns its status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  KESSAN_ASSIGN_OR_RETURN_IMPL(KESSAN_CONCAT(kessan_or_, __LINE__), lhs, expr)
#define KESSAN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
