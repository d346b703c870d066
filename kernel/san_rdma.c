// SPDX-License-Identifier: GPL-2.0
/*
 * The RDMA provider: carries AF_SAN connections over reliable-connected
 * queue pairs set up through rdma_cm.  This file holds its device
 * tracking: an ib_client that follows RDMA devices as they come and go,
 * so that connections on a device that goes away can be ended.
 */
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <rdma/ib_verbs.h>

#include "san_provider.h"

/**
 * struct san_rdma_dev - an RDMA device known to the provider
 * @ibdev: the device
 * @node: entry in san_rdma_devices, under san_rdma_lock
 */
struct san_rdma_dev {
	struct ib_device *ibdev;
	struct list_head node;
};

static LIST_HEAD(san_rdma_devices);
static DEFINE_MUTEX(san_rdma_lock);

static struct ib_client san_rdma_client;

static int san_rdma_add_one(struct ib_device *ibdev)
{
	struct san_rdma_dev *dev;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	dev->ibdev = ibdev;

	mutex_lock(&san_rdma_lock);
	list_add_tail(&dev->node, &san_rdma_devices);
	mutex_unlock(&san_rdma_lock);

	ib_set_client_data(ibdev, &san_rdma_client, dev);
	pr_info("af_san: rdma device %s added\n", dev_name(&ibdev->dev));
	return 0;
}

static void san_rdma_remove_one(struct ib_device *ibdev, void *client_data)
{
	struct san_rdma_dev *dev = client_data;

	mutex_lock(&san_rdma_lock);
	list_del(&dev->node);
	mutex_unlock(&san_rdma_lock);

	pr_info("af_san: rdma device %s removed\n", dev_name(&ibdev->dev));
	kfree(dev);
}

static struct ib_client san_rdma_client = {
	.name = "af_san",
	.add = san_rdma_add_one,
	.remove = san_rdma_remove_one,
};

static int san_rdma_init(void)
{
	return ib_register_client(&san_rdma_client);
}

static void san_rdma_exit(void)
{
	ib_unregister_client(&san_rdma_client);
}

const struct san_provider san_rdma_provider = {
	.name = "rdma",
	.init = san_rdma_init,
	.exit = san_rdma_exit,
};
