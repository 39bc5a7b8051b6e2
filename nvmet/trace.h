#include "trace/trace-nvmet.h"
