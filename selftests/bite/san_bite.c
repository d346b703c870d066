// SPDX-License-Identifier: GPL-2.0
/*
 * A module that misbehaves on purpose, to prove that the debug test box
 * catches what it claims to: loaded with lock=1 it takes two mutexes in
 * opposite orders (lockdep: possible circular locking dependency); with
 * leak=1 it allocates and forgets a buffer (kmemleak).  Built only for the
 * debug test box; never part of af_san.ko.
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

static bool lock;
module_param(lock, bool, 0444);
MODULE_PARM_DESC(lock, "take two mutexes in opposite orders");

static bool leak;
module_param(leak, bool, 0444);
MODULE_PARM_DESC(leak, "leak one allocation");

static DEFINE_MUTEX(san_bite_a);
static DEFINE_MUTEX(san_bite_b);
static void *san_bite_ptr;

static int __init san_bite_init(void)
{
	if (lock) {
		mutex_lock(&san_bite_a);
		mutex_lock(&san_bite_b);
		mutex_unlock(&san_bite_b);
		mutex_unlock(&san_bite_a);

		mutex_lock(&san_bite_b);
		mutex_lock(&san_bite_a);
		mutex_unlock(&san_bite_a);
		mutex_unlock(&san_bite_b);
	}
	if (leak) {
		san_bite_ptr = kmalloc(1024, GFP_KERNEL);
		if (!san_bite_ptr)
			return -ENOMEM;
		/* Forget it: kmemleak must find no reference left. */
		WRITE_ONCE(san_bite_ptr, NULL);
	}
	return 0;
}

static void __exit san_bite_exit(void)
{
}

module_init(san_bite_init);
module_exit(san_bite_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("AF_SAN selftest: deliberate lock inversion and leak");
