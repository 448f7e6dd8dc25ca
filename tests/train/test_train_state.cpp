// The training state a checkpoint holds reads back exactly, NaN and infinities included (JSON has
// neither: a NaN validation loss used to be written as null and --resume then failed).
#include <catch2/catch.hpp>
#include <cmath>

#include "train/trainer.hpp"

using namespace dynsim;

TEST_CASE("a checkpoint's training state keeps NaN and infinite values", "[train]") {
  TrainState s;
  s.epochs_done = 2;
  EpochRecord a;
  a.epoch = 1;
  a.train_loss = 3.25;
  a.val_loss = NAN;
  a.val_accuracy = 0.5;
  a.grad_norm = INFINITY;
  a.seconds = 0.1;
  s.history = {a};
  s.best_epoch = 1;
  s.best_val_accuracy = 0.5;
  s.best_val_loss = NAN;
  const std::string text = s.to_json().dump();
  CHECK(text.find("null") == std::string::npos);
  const TrainState back = TrainState::from_json(nlohmann::json::parse(text));
  REQUIRE(back.history.size() == 1);
  CHECK(std::isnan(back.history[0].val_loss));
  CHECK(std::isinf(back.history[0].grad_norm));
  CHECK(back.history[0].train_loss == 3.25);
  CHECK(std::isnan(back.best_val_loss));
  CHECK(back.best_val_accuracy == 0.5);
  TrainState fresh;  // best_val_loss starts at +inf
  CHECK(std::isinf(
      TrainState::from_json(nlohmann::json::parse(fresh.to_json().dump())).best_val_loss));
  // Anything else is a type error, which the resume reports as a bad checkpoint.
  auto bad = s.to_json();
  bad["best_val_loss"] = "lots";
  CHECK_THROWS(TrainState::from_json(bad));
}
