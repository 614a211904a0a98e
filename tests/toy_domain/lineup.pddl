; A toy domain for the test that a domain is one module: blocks are set onto marked
; spots of the table, one block per spot. Written for tests/toy_domain only.
(define (domain lineup)
  (:requirements :strips :typing)
  (:types block spot)
  (:constants floor - spot)
  (:predicates
    (at ?b - block ?s - spot)
    (free ?s - spot)
    (holding ?b - block)
    (handempty))

  (:action grab
    :parameters (?b - block ?s - spot)
    :precondition (and (at ?b ?s) (handempty))
    :effect (and (holding ?b) (free ?s)
                 (not (at ?b ?s)) (not (handempty))))

  (:action set-down
    :parameters (?b - block ?s - spot)
    :precondition (and (holding ?b) (free ?s))
    :effect (and (at ?b ?s) (handempty)
                 (not (free ?s)) (not (holding ?b)))))
