; Tabletop pick-and-place for one arm with a parallel gripper.
;
; Blocks stand on surfaces (the table, or named regions of it), on other blocks, or lie
; in bowls. A surface or a bowl holds any number of blocks, so only blocks need to be
; clear; whether a placement is geometrically possible is for the geometric solvers
; (streams) to decide, not for this symbolic model. Blocks and surfaces share the
; supertype support (what a block can stand on) rather than (either block surface),
; which Fast Downward rejects.
(define (domain pick-place)
  (:requirements :strips :typing :negative-preconditions :equality)
  (:types block surface - support bowl)
  (:constants table - surface)
  (:predicates
    (on ?b - block ?s - support)
    (in ?b - block ?w - bowl)
    (clear ?b - block)
    (holding ?b - block)
    (handempty))

  (:action pick
    :parameters (?b - block ?s - surface)
    :precondition (and (on ?b ?s) (clear ?b) (handempty))
    :effect (and (holding ?b)
                 (not (on ?b ?s)) (not (clear ?b)) (not (handempty))))

  (:action place
    :parameters (?b - block ?s - surface)
    :precondition (holding ?b)
    :effect (and (on ?b ?s) (clear ?b) (handempty)
                 (not (holding ?b))))

  (:action unstack
    :parameters (?b - block ?c - block)
    :precondition (and (on ?b ?c) (clear ?b) (handempty) (not (= ?b ?c)))
    :effect (and (holding ?b) (clear ?c)
                 (not (on ?b ?c)) (not (clear ?b)) (not (handempty))))

  (:action stack
    :parameters (?b - block ?c - block)
    :precondition (and (holding ?b) (clear ?c) (not (= ?b ?c)))
    :effect (and (on ?b ?c) (clear ?b) (handempty)
                 (not (holding ?b)) (not (clear ?c))))

  ; a block in a bowl is not clear: nothing is stacked on it, and it is taken out again
  ; with take-out, never with pick or unstack
  (:action place-in
    :parameters (?b - block ?w - bowl)
    :precondition (and (holding ?b) (not (in ?b ?w)))
    :effect (and (in ?b ?w) (handempty)
                 (not (holding ?b))))

  (:action take-out
    :parameters (?b - block ?w - bowl)
    :precondition (and (in ?b ?w) (handempty))
    :effect (and (holding ?b)
                 (not (in ?b ?w)) (not (handempty)))))
