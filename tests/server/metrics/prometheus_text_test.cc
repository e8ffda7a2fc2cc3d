// The test reader itself: it must refuse what Prometheus refuses, or the
// tests that use it prove nothing.
#include "prometheus_text.h"

#include <gtest/gtest.h>

namespace kessan::test {
namespace {

TEST(PrometheusTextTest, ReadsAValidExposition) {
  absl::StatusOr<Scrape> s = ParsePrometheusText(
      "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\"} 2\n"
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_sum 4.5\nh_count 3\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->Get("a_total", {{"x", "1"}, {"y", "q\""}}), 2);
  EXPECT_EQ(s->Get("h_count"), 3);
}

TEST(PrometheusTextTest, RefusesWhatIsNotTheFormat) {
  for (const char* bad : {
           "a 1\n",                                                           // no TYPE
           "# TYPE a counter\na -1\n",                                        // negative counter
           "# TYPE a gauge\na{1x=\"v\"} 1\n",                                 // bad label name
           "# TYPE a gauge\na{x=\"v\\t\"} 1\n",                               // bad escape
           "# TYPE a gauge\na{x=\"v} 1\n",                                    // unterminated
           "# TYPE a gauge\na one\n",                                         // bad value
           "# TYPE a gauge\na 1\na 2\n",                                      // series twice
           "# TYPE a gauge\n# TYPE a gauge\na 1\n",                           // TYPE twice
           "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 1\n",        // family split
           "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  // no +Inf
           "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
           "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",  // count != +Inf
           "# TYPE a gauge\na 1",                                                // no final newline
       }) {
    EXPECT_FALSE(ParsePrometheusText(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace kessan::test
