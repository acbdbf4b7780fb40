// Seeded generators of random values and rows for randomized tests.
#pragma once

#include <cstdint>
#include <random>

#include "deltaflow/value/row.h"

namespace deltaflow::testing {

/// Appends one random value of any kind except objects (tuples nest up to `max_depth`).
/// Values are drawn from small domains so that equal values occur often.
void AppendRandomValue(std::mt19937_64& rng, value::RowBuilder& builder, int max_depth);

/// A random row of `arity` values.
value::Row RandomRow(std::mt19937_64& rng, int arity, int max_depth = 2);

}  // namespace deltaflow::testing
