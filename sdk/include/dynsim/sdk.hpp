// The dynsim SDK: the only header a plugin needs.
#pragma once

#include "dynsim/sdk/abi.hpp"
#include "dynsim/sdk/attack.hpp"
#include "dynsim/sdk/blas.hpp"
#include "dynsim/sdk/context.hpp"
#include "dynsim/sdk/dataset.hpp"
#include "dynsim/sdk/loss.hpp"
#include "dynsim/sdk/model.hpp"
#include "dynsim/sdk/noise_law.hpp"
#include "dynsim/sdk/options.hpp"
#include "dynsim/sdk/parallel.hpp"
#include "dynsim/sdk/planting.hpp"
#include "dynsim/sdk/plugin.hpp"
#include "dynsim/sdk/random.hpp"
#include "dynsim/sdk/types.hpp"
