// What the feed fuzz targets share: the IIJ data set (KESSAN_FUZZ_DATASET)
// as reference data, and a Feed holding it, as kessand serves it.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "dataset/dataset.h"
#include "feed/feed.h"
#include "journal/sqlite_journal.h"
#include "model/catalog.h"

namespace kessan::fuzz {

// The issuers and segments of a data set, as validation sees them.
class DataSetCatalog : public Catalog {
 public:
  explicit DataSetCatalog(const v1::DataSet& ds) : ds_(ds) {}
  const v1::Issuer* FindIssuer(absl::string_view name) const override {
    for (const auto& i : ds_.issuers()) {
      if (i.id() == name) return &i;
      for (const auto& a : i.aliases()) {
        if (a == name) return &i;
      }
    }
    return nullptr;
  }
  bool HasSegment(absl::string_view issuer, absl::string_view segment) const override {
    for (const auto& s : ds_.segments()) {
      if (s.issuer() == issuer && s.id() == segment) return true;
    }
    return false;
  }
  bool HasLiveItem(const std::string& key) const override { return key.size() % 2 == 0; }

 private:
  const v1::DataSet& ds_;
};

// The data set, loaded once; aborts if it does not load.
inline const v1::DataSet& IijDataSet() {
  static const v1::DataSet* ds = [] {
    absl::StatusOr<v1::DataSet> loaded = LoadDataSet(KESSAN_FUZZ_DATASET);
    if (!loaded.ok()) std::abort();
    return new v1::DataSet(*std::move(loaded));
  }();
  return *ds;
}

// A feed over a journal in a new temporary directory, seeded with the data
// set, then a revision of its first fact and a retraction of its second (so
// the views differ); no ticker. Aborts on failure; never freed.
inline Feed& IijFeed() {
  static Feed* feed = [] {
    static char dir[] = "/tmp/kessan-fuzz-XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    });
    absl::StatusOr<std::unique_ptr<SqliteJournal>> log = SqliteJournal::Open(std::string(dir) + "/kessan.db");
    if (!log.ok()) std::abort();
    Feed::Options options;
    options.tick = absl::ZeroDuration();
    options.wake_helpers = 1;
    options.reader_threads = 1;
    absl::StatusOr<std::unique_ptr<Feed>> opened = Feed::Open(*std::move(log), options);
    if (!opened.ok()) std::abort();
    const v1::DataSet& ds = IijDataSet();
    for (const v1::PublishRequest& batch : ToPublishRequests(ds, 1000)) {
      if (!(*opened)->Publish(batch).ok()) std::abort();
    }
    if (ds.facts_size() < 2) std::abort();
    v1::PublishRequest revision;
    *revision.add_items()->mutable_fact() = ds.facts(0);
    v1::Retraction* retraction = revision.add_items()->mutable_retraction();
    *retraction->mutable_item()->mutable_fact() = ds.facts(1).key();
    retraction->set_reason("fuzz");
    if (!(*opened)->Publish(revision).ok()) std::abort();
    return opened->release();
  }();
  return *feed;
}

}  // namespace kessan::fuzz
