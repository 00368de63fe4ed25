/* Intrusive doubly linked lists with a sentinel head.  An unlinked node has
 * next == NULL, so "is this aio still queued here?" is a pointer test. */
#ifndef NGHTTPW_CORE_LIST_H
#define NGHTTPW_CORE_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct list_node {
	struct list_node *next;
	struct list_node *prev;
} list_node;

#define LIST_ENTRY(node, type, member) \
	((type *) (void *) ((char *) (node) - offsetof(type, member)))

static inline void
list_init(list_node *head)
{
	head->next = head;
	head->prev = head;
}

static inline bool
list_empty(const list_node *head)
{
	return (head->next == head);
}

static inline bool
list_linked(const list_node *node)
{
	return (node->next != NULL);
}

static inline void
list_append(list_node *head, list_node *node)
{
	node->prev       = head->prev;
	node->next       = head;
	head->prev->next = node;
	head->prev       = node;
}

static inline void
list_remove(list_node *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	node->next       = NULL;
	node->prev       = NULL;
}

static inline list_node *
list_first(const list_node *head)
{
	return (list_empty(head) ? NULL : head->next);
}

#endif
