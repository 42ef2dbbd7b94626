// LocalBackend: the Backend of `freshet serve`, straight onto stream::Engine and TableStore.
#include "backend.h"

#include "freshet/delivery/delivery.h"
#include "freshet/table/expression.h"

namespace freshet::process {
namespace {

class LocalBackend final : public Backend {
 public:
  LocalBackend(stream::Engine& engine, table::TableStore& tables,
               delivery::DeliveryService* delivery)
      : engine_(engine), tables_(tables), delivery_(delivery) {}

  Result<stream::StreamInfo> describe_stream(const std::string& region,
                                             const std::string& name) override {
    return engine_.describe_stream(region, name);
  }
  Result<std::string> get_shard_iterator(const std::string& region, const std::string& name,
                                         const std::string& shard_id, stream::IteratorType type,
                                         const std::string& sequence_number,
                                         int64_t timestamp_ms) override {
    return engine_.get_shard_iterator(region, name, shard_id, type, sequence_number,
                                      timestamp_ms);
  }
  Result<stream::GetRecordsResult> get_records(std::string_view iterator,
                                               uint32_t limit) override {
    return engine_.get_records(iterator, limit, /*shared_read_limits=*/false);
  }
  Result<std::vector<stream::PutOutcome>> put_records(
      const std::string& region, const std::string& name,
      std::span<const stream::PutEntry> entries) override {
    return engine_.put_records(region, name, entries);
  }
  Result<bool> created_after(const std::string& region, const std::string& name,
                             const stream::Shard& shard, int64_t ts_ms) override {
    (void)region;
    (void)name;
    return shard.created_ms > ts_ms;
  }

  Result<std::vector<std::string>> put_record_batch(
      const std::string& name, const std::vector<std::string_view>& records) override {
    if (delivery_ == nullptr) {
      return Error(ErrorCode::kUnavailable, "this server has no delivery streams");
    }
    FRESHET_ASSIGN_OR_RETURN(std::vector<std::string> ids, delivery_->put(name, records));
    (void)ids;
    return std::vector<std::string>(records.size());  // all stored
  }

  Result<table::TableDesc> describe_table(std::string_view name) override {
    return tables_.describe_table(name);
  }
  Result<table::TableDesc> create_table(table::TableDesc desc) override {
    return tables_.create_table(std::move(desc));
  }
  bool is_active(const table::TableDesc& d) override { return tables_.is_active(d); }
  Result<std::optional<table::Item>> get_item(std::string_view table,
                                              const table::Item& key) override {
    return tables_.get_item(table, key);
  }
  Result<table::Page> scan(const table::ScanSpec& spec) override { return tables_.scan(spec); }

  Result<table::WriteOutcome> update_item(std::string_view table, const table::Item& key,
                                          const WriteExpr& e) override {
    table::ExpressionContext cctx(&e.names, &e.values), uctx(&e.names, &e.values);
    std::optional<table::Condition> cond;
    if (!e.condition.empty()) {
      FRESHET_ASSIGN_OR_RETURN(cond,
                               table::parse_condition(e.condition, "ConditionExpression", cctx));
    }
    FRESHET_ASSIGN_OR_RETURN(table::UpdateExpr u, table::parse_update(e.update, uctx));
    return tables_.update_item(table, key, u, cond ? &*cond : nullptr);
  }
  void put_item_async(std::string_view table, table::Item item, const WriteExpr& e,
                      table::WriteDone done) override {
    std::optional<table::Condition> cond;
    if (!e.condition.empty()) {
      table::ExpressionContext ctx(&e.names, &e.values);
      auto c = table::parse_condition(e.condition, "ConditionExpression", ctx);
      if (!c.ok()) {
        done(c.error());
        return;
      }
      cond = std::move(c).value();
    }
    tables_.put_item_async(table, std::move(item), cond ? &*cond : nullptr, std::move(done));
  }
  void batch_write_async(const std::vector<table::WriteOp>& ops,
                         std::function<void(Status)> done) override {
    tables_.batch_write_async(ops, std::move(done));
  }

 private:
  stream::Engine& engine_;
  table::TableStore& tables_;
  delivery::DeliveryService* const delivery_;  // may be nullptr
};

}  // namespace

std::unique_ptr<Backend> make_local_backend(stream::Engine& engine, table::TableStore& tables,
                                            delivery::DeliveryService* delivery) {
  return std::make_unique<LocalBackend>(engine, tables, delivery);
}

}  // namespace freshet::process
